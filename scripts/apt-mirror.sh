#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt uses (the first "deb" source
# whose suite is not a -security one), as an EOLE server uses its own
# mirror: debootstrap in the tests and the image builds takes it from here.
# DEBIAN_MIRROR, when set, wins. Reads /etc/apt/sources.list and the
# one-line (.list) and deb822 (.sources) files of /etc/apt/sources.list.d.
set -euo pipefail
if [ -n "${DEBIAN_MIRROR:-}" ]; then
  printf '%s\n' "$DEBIAN_MIRROR"
  exit 0
fi
found=""
# One-line form: deb [options] URI SUITE COMPONENTS...
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  found=$(awk '$1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i+1) !~ /security/) { print $i; exit } }' "$f")
  [ -n "$found" ] && break
done
# deb822 form: stanzas with Types:, URIs:, Suites:.
if [ -z "$found" ]; then
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    found=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uri = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = $i
          if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
          if ($i ~ /^Suites:/) suites = $i }
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && suites !~ /security/ && uri != "") { print uri; exit } }' "$f")
    [ -n "$found" ] && break
  done
fi
if [ -z "$found" ]; then
  echo "apt-mirror.sh: no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d; set DEBIAN_MIRROR" >&2
  exit 1
fi
printf '%s\n' "${found%/}"
