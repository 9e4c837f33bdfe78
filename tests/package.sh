#!/usr/bin/env bash
# The Debian package, end to end (issue 8). Run as root on Debian 12;
# scripts/test.sh calls it after cargo test.
#
# 1. builds target/debian/conteneur_<version>_amd64.deb (packaging/build-deb.sh)
#    and checks it with lintian (no error allowed; tags printed);
# 2. in a fresh Debian 12 root (debootstrap --variant=minbase bookworm from
#    the machine's apt mirror, plus nginx, libnginx-mod-stream and man-db; cached as a tarball under
#    /var/cache/conteneur-test, so only the first run downloads), shows:
#    dpkg -i installs; CreoleGet --list answers through the link; man
#    conteneur-reconfigure renders; the completions are there and work; a
#    second package's dictionary fires the trigger, which lints and only
#    warns; reconfigure --if-instantiated does nothing on a fresh server;
#    reinstalling keeps config.eol; EOLE's own commands (a stand-in creole
#    package) win in both install orders; dpkg -r keeps config.eol; dpkg -P
#    removes what the package created and nothing else.
#
# Environment: DEBIAN_MIRROR (default: the mirror of this machine's apt sources,
# scripts/apt-mirror.sh),
# CONTENEUR_TEST_CACHE (default /var/cache/conteneur-test), KEEP=1 keeps the
# chroot for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

MIRROR=$(./scripts/apt-mirror.sh)
CACHE=${CONTENEUR_TEST_CACHE:-/var/cache/conteneur-test}
# Bump when the chroot's recipe changes: an old tarball is then not reused.
BASE_TARBALL=$CACHE/bookworm-minbase-nginx-stream-mandb-v2.tar

started=$(date +%s)
passed=0
failed=0
say() { printf '\n== package: %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$*"; }
die() { printf 'package.sh: %s\n' "$*" >&2; exit 1; }
# check DESCRIPTION COMMAND...: one test line from a command's exit status.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

[ "$(id -u)" -eq 0 ] || die "run as root: it builds a chroot and runs dpkg inside it"

need=()
for p in debootstrap lintian dpkg-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi

# Scratch space: the chroot, the small packages the test builds.
WORK=$(mktemp -d /var/tmp/conteneur-package.XXXXXX)
R=$WORK/root
cleanup() {
  local m
  # Unmount whatever is mounted below the root before anything is removed.
  for m in $(awk -v r="$WORK/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  if awk -v r="$WORK/" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    echo "package.sh: something is still mounted under $WORK: left in place" >&2
  elif [ "${KEEP:-0}" = 1 ]; then
    echo "package.sh: chroot kept in $R"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

build_base() {
  local base=$WORK/base
  say "no cached chroot: debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
  debootstrap --variant=minbase bookworm "$base" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap failed; its log is above"; }
  # Services are never started inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$base/usr/sbin/policy-rc.d"
  chmod 755 "$base/usr/sbin/policy-rc.d"
  mount -t proc proc "$base/proc"
  if ! chroot "$base" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx libnginx-mod-stream man-db && apt-get clean' \
    >"$WORK/apt.log" 2>&1; then
    umount "$base/proc"
    tail -20 "$WORK/apt.log" >&2
    die "installing nginx and man-db in the chroot failed; the log is above"
  fi
  umount "$base/proc"
  mkdir -p "$CACHE"
  tar -C "$base" -cf "$BASE_TARBALL.tmp" .
  mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
  rm -rf "$base"
}

# The cached Debian 12 root (built once, then reused from the tarball).
ensure_base() {
  mkdir -p "$CACHE"
  (
    # One builder at a time; the others wait and reuse its tarball.
    flock 9
    [ -f "$BASE_TARBALL" ] || build_base
  ) 9>"$CACHE/.lock"
}

# --prepare-chroot: only make sure the cached root exists, then stop.
# scripts/test.sh runs this in the background while cargo compiles: it is
# network and disk work, and the compile is CPU work.
if [ "${1:-}" = --prepare-chroot ]; then
  ensure_base
  exit 0
fi

# --- 1. build and lintian ---------------------------------------------------
say "hooks are shipped into EOLE's folders (a stand-in hook folder)"
t0=$(date +%s)
mkdir -p "$WORK/hooks/postservice"
printf '#!/bin/sh\necho "demo hook $1"\n' >"$WORK/hooks/postservice/50-conteneur-demo"
HOOK_DEB=$(CONTENEUR_HOOKS_DIR=$WORK/hooks packaging/build-deb.sh | tail -n 1)
check "release build and a package with a hook in $(($(date +%s) - t0)) s" test -f "$HOOK_DEB"
check "the hook is installed executable in /usr/share/eole/postservice" \
  grep -qE '^-rwxr-xr-x .* \./usr/share/eole/postservice/50-conteneur-demo$' <<<"$(dpkg-deb -c "$HOOK_DEB")"

say "build the package"
t0=$(date +%s)
DEB=$(packaging/build-deb.sh | tail -n 1)
[ -f "$DEB" ] || die "packaging/build-deb.sh did not give a .deb (got '$DEB')"
DEB=$(realpath "$DEB")
case "$(basename "$DEB")" in
  conteneur_*_amd64.deb) ok "built $(basename "$DEB") in $(($(date +%s) - t0)) s" ;;
  *) not_ok "package file name: $(basename "$DEB")" ;;
esac

say "lintian"
lint_out=$(lintian --info --display-info --pedantic "$DEB" 2>&1) || true
printf '%s\n' "$lint_out" | grep -E '^[EWIPX]: ' || echo "(no tag)"
if grep -q '^E: ' <<<"$lint_out"; then
  not_ok "lintian: errors (above)"
else
  ok "lintian: no error"
fi
if grep -q '^W: ' <<<"$lint_out"; then
  echo "lintian warnings are listed above; packaging/README.md says why each one stays"
fi

# --- 2. a fresh Debian 12 root ----------------------------------------------


t0=$(date +%s)
ensure_base
mkdir -p "$R"
tar -C "$R" -xf "$BASE_TARBALL"
mount -t proc proc "$R/proc"
ok "fresh Debian 12 root from $(basename "$BASE_TARBALL") in $(($(date +%s) - t0)) s"

# Runs a command inside the root, with a clean environment (no
# CONTENEUR_ROOT or anything else of the host's).
in_root() {
  chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    TERM=dumb DEBIAN_FRONTEND=noninteractive MAN_DISABLE_SECCOMP=1 "$@"
}
# Runs a command inside the root, its output in $out, its status in $rc.
run_root() {
  rc=0
  out=$(in_root "$@" 2>&1) || rc=$?
}
# (Here-strings, not pipes: with pipefail, grep -q or head ending first
# would fail the writer with SIGPIPE.)
has() { grep -qE -- "$1" <<<"$out"; }
show() { printf '%s\n' "$out" | sed 's/^/    | /'; }

cp "$DEB" "$R/tmp/conteneur.deb"

# A small package that ships a dictionary, as EOLE packages do; version 2
# ships a broken one.
make_dico_deb() {
  local version=$1 body=$2
  local dir=$WORK/eole-demo-$version
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/eole/creole/dicos"
  cat >"$dir/DEBIAN/control" <<EOF
Package: eole-demo
Version: $version
Architecture: all
Maintainer: conteneur tests <tests@eole.invalid>
Description: stand-in EOLE package that ships a dictionary
 Used by conteneur's package test.
EOF
  printf '%s\n' "$body" >"$dir/usr/share/eole/creole/dicos/25_eole-demo.xml"
  dpkg-deb --root-owner-group -b "$dir" "$R/tmp/eole-demo_$version.deb" >/dev/null
}
make_dico_deb 1.0 "<?xml version='1.0' encoding='utf-8'?>
<creole>
  <variables>
    <family name='demo'>
      <variable name='activer_eole_demo' type='oui/non' description='Enable the demo service'><value>oui</value></variable>
    </family>
  </variables>
</creole>"
make_dico_deb 2.0 "<?xml version='1.0' encoding='utf-8'?>
<creole>
  <variables>
    <family name='demo'>
      <variable name='activer_eole_demo' type='oui/non'>
    </family>
  </variables>
</creole>"

# A stand-in for EOLE's creole package: its own /usr/bin/CreoleGet.
make_creole_deb() {
  local dir=$WORK/creole
  mkdir -p "$dir/DEBIAN" "$dir/usr/bin"
  cat >"$dir/DEBIAN/control" <<EOF
Package: creole
Version: 2.10.0-stand-in
Architecture: all
Maintainer: conteneur tests <tests@eole.invalid>
Description: stand-in for EOLE's creole package (its CreoleGet only)
 Used by conteneur's package test.
EOF
  printf '#!/bin/sh\necho "EOLE creole CreoleGet $*"\n' >"$dir/usr/bin/CreoleGet"
  chmod 755 "$dir/usr/bin/CreoleGet"
  dpkg-deb --root-owner-group -b "$dir" "$R/tmp/creole.deb" >/dev/null
}
make_creole_deb

# --- install ----------------------------------------------------------------
say "dpkg -i conteneur"
run_root dpkg -i /tmp/conteneur.deb
show
check "dpkg -i installs (Depends: nginx, libnginx-mod-stream satisfied)" test "$rc" -eq 0
run_root dpkg-query -W -f '${Status}' conteneur
check "dpkg says: install ok installed" has '^install ok installed$'
check "state folders created" test -d "$R/var/lib/conteneur/nginx" -a -d "$R/etc/eole"
check "config.eol not created by the package" test ! -e "$R/etc/eole/config.eol"
check "default nginx include in place" grep -q "placeholder installed by the conteneur package" "$R/etc/nginx/conf.d/conteneur.conf"
run_root nginx -t
check "nginx -t accepts the configuration with the include" test "$rc" -eq 0

say "EOLE names through the links"
for name in CreoleGet CreoleSet CreoleLint CreoleCat instance reconfigure gen_config; do
  run_root readlink -f "/usr/bin/$name"
  check "/usr/bin/$name → /usr/bin/conteneur" has '^/usr/bin/conteneur$'
done
run_root CreoleGet --list
sed -n '1,5s/^/    | /p' <<<"$out"
check "CreoleGet --list answers through the link" has '^nombre_conteneur=0$'
run_root CreoleSet conteneur_server_name demo.example.org
check "CreoleSet saves a value (exit $rc)" test "$rc" -eq 0
run_root CreoleGet conteneur_server_name
check "CreoleGet reads it back" has '^demo\.example\.org$'
run_root CreoleLint
check "CreoleLint: no error on our dictionary" has 'lint: 0 error'
run_root reconfigure --if-instantiated
check "reconfigure --if-instantiated: exit 0, nothing done on a server never instantiated" \
  test "$rc" -eq 0 -a -n "$(printf '%s\n' "$out" | grep 'never instantiated')"
run_root reconfigure
check "reconfigure without the flag still refuses (exit $rc)" test "$rc" -ne 0

say "backups: the EOLE schedule task"
check "schedule dictionary in /usr/share/eole/creole/extra/schedule" \
  in_root test -s /usr/share/eole/creole/extra/schedule/conteneur_backup.xml
check "schedule script executable in /usr/share/eole/schedule/scripts" \
  in_root test -x /usr/share/eole/schedule/scripts/conteneur_backup
run_root /usr/share/eole/schedule/scripts/conteneur_backup
check "the schedule script does nothing on a server never instantiated (exit $rc)" test "$rc" -eq 0

say "man pages"
run_root man -P cat conteneur-reconfigure
sed -n '1,12s/^/    | /p' <<<"$out"
check "man conteneur-reconfigure renders" has '^EXIT STATUS'
check "… and lists --if-instantiated" has 'if-instantiated'
run_root man -P cat CreoleGet
check "man CreoleGet shows conteneur-get(1)" has 'conteneur-get'
run_root man -P cat conteneur
check "man conteneur lists the EOLE names" has '^EOLE NAMES'

say "completions"
for f in /usr/share/bash-completion/completions/conteneur /usr/share/bash-completion/completions/CreoleGet \
  /usr/share/zsh/vendor-completions/_conteneur /usr/share/zsh/vendor-completions/_reconfigure \
  /usr/share/fish/vendor_completions.d/conteneur.fish /usr/share/fish/vendor_completions.d/gen_config.fish; do
  check "completion file $f" in_root test -s "$f"
done
run_root bash -c 'source /usr/share/bash-completion/completions/conteneur
  COMP_WORDS=(conteneur reco); COMP_CWORD=1; _conteneur conteneur reco conteneur; echo "${COMPREPLY[*]}"'
check "bash completes 'conteneur reco' to reconfigure" has '^reconfigure$'
run_root bash -c 'source /usr/share/bash-completion/completions/CreoleGet
  COMP_WORDS=(CreoleGet --li); COMP_CWORD=1; _CreoleGet CreoleGet --li CreoleGet; echo "${COMPREPLY[*]}"'
check "bash completes 'CreoleGet --li' to --list" has '^--list$'

say "the trigger: another package's dictionary"
run_root dpkg -i /tmp/eole-demo_1.0.deb
show
check "installing a package with a dictionary succeeds" test "$rc" -eq 0
check "… and runs conteneur lint through the trigger" has 'conteneur lint: lint: 0 error'
run_root CreoleGet activer_eole_demo
check "the new dictionary's variable is there" has '^oui$'
run_root dpkg -i /tmp/eole-demo_2.0.deb
show
check "a broken dictionary does not fail that package's install" test "$rc" -eq 0
check "… the trigger warns about it" has 'warning: conteneur lint found problems'
check "… and names the broken file" has 'conteneur lint: error: /usr/share/eole/creole/dicos/25_eole-demo.xml'
run_root dpkg -r eole-demo
check "removing that package runs the lint again" has 'conteneur lint: lint: 0 error'

say "reinstall keeps config.eol"
run_root dpkg -i /tmp/conteneur.deb
check "dpkg -i over the installed package" test "$rc" -eq 0
run_root CreoleGet conteneur_server_name
check "config.eol value kept across the reinstall" has '^demo\.example\.org$'

say "EOLE's own commands win (stand-in creole installed after conteneur)"
run_root dpkg -i /tmp/creole.deb
show
check "creole installs over the alternative, no file conflict" test "$rc" -eq 0
run_root CreoleGet --list
check "CreoleGet is EOLE's now" has '^EOLE creole CreoleGet --list$'
check "conteneur's man link for CreoleGet is gone" test ! -e "$R/usr/share/man/man1/CreoleGet.1.gz"
run_root readlink -f /usr/bin/CreoleSet
check "the other names stay conteneur's" has '^/usr/bin/conteneur$'
run_root dpkg -P creole
check "creole removed" test "$rc" -eq 0
run_root readlink -f /usr/bin/CreoleGet
check "the trigger gives CreoleGet back to conteneur" has '^/usr/bin/conteneur$'

say "dpkg -r keeps config.eol"
echo '# stand-in for a rendered launch plan' >"$R/var/lib/conteneur/launch.json"
run_root dpkg -r conteneur
show
check "dpkg -r succeeds" test "$rc" -eq 0
check "config.eol kept" grep -q demo.example.org "$R/etc/eole/config.eol"
check "the binary is gone" test ! -e "$R/usr/bin/conteneur"
check "the EOLE names are gone" test ! -e "$R/usr/bin/CreoleGet" -a ! -L "$R/usr/bin/CreoleGet"
check "our dictionary is gone" test ! -e "$R/usr/share/eole/creole/dicos/10_conteneur.xml"
check "conteneur's state kept" test -f "$R/var/lib/conteneur/launch.json"
check "nginx include kept" test -f "$R/etc/nginx/conf.d/conteneur.conf"

say "dpkg -P removes what the package created"
run_root dpkg -P conteneur
show
check "dpkg -P succeeds" test "$rc" -eq 0
run_root dpkg-query -W -f '${Status}' conteneur
check "dpkg forgot the package" test -z "$(printf '%s\n' "$out" | grep '^install ok installed$')"
check "/var/lib/conteneur removed" test ! -e "$R/var/lib/conteneur"
check "the untouched nginx placeholder removed" test ! -e "$R/etc/nginx/conf.d/conteneur.conf"
check "config.eol still there (the admin's values)" grep -q demo.example.org "$R/etc/eole/config.eol"
run_root update-alternatives --query CreoleGet
check "no alternative left" test "$rc" -ne 0
leftover=$(dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's|^\./|/|' | grep -v '/$' | while read -r f; do
  [ -e "$R$f" ] && echo "$f"
done || true)
check "no file of the package left${leftover:+: $leftover}" test -z "$leftover"
run_root nginx -t
check "nginx -t still accepts the configuration" test "$rc" -eq 0

say "EOLE's own commands win (stand-in creole installed first)"
run_root dpkg -i /tmp/creole.deb
check "creole installed" test "$rc" -eq 0
echo "# conteneur's web front, rendered (stand-in)" >"$R/etc/nginx/conf.d/conteneur.conf"
run_root dpkg -i /tmp/conteneur.deb
show
check "conteneur installs beside creole" test "$rc" -eq 0
check "… and says CreoleGet is kept" has 'CreoleGet comes from creole: kept'
run_root CreoleGet x
check "CreoleGet is still EOLE's" has '^EOLE creole CreoleGet x$'
run_root readlink -f /usr/bin/reconfigure
check "reconfigure is conteneur's (free name)" has '^/usr/bin/conteneur$'
check "a published site is never replaced by the placeholder" grep -q 'rendered (stand-in)' "$R/etc/nginx/conf.d/conteneur.conf"
run_root dpkg -P conteneur
check "purge beside creole" test "$rc" -eq 0
check "… keeps creole's CreoleGet" test -x "$R/usr/bin/CreoleGet"
check "… keeps the site conteneur published" test -f "$R/etc/nginx/conf.d/conteneur.conf"

say "done in $(($(date +%s) - started)) s"
echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
