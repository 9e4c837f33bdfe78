#!/usr/bin/env bash
# A `vm` container from `reconfigure` to its first HTTP 200 through nginx,
# beside a bare `qemu-system-x86_64` boot of the same image to its first
# 200, in the same run (BENCHMARKS.md, "A vm container"). Not part of CI: it
# takes a few minutes and wants a quiet machine. Run as root.
#
# The guest is localhost:5000/vm/web:1.0 (scripts/images-vm.sh), 256 MB, one
# CPU, as QEMU's accelerator probe says (TCG on these machines). Before
# anything is timed, one `instance` pulls the image, extracts its disk into
# the cache and boots it once; the QEMU command line conteneur ran is saved
# from /proc, and that is what the bare boot runs again, exactly (same
# kernel, initramfs, disk cache, memory, accelerator and port forward), on a
# fresh overlay of the same cached disk.
#
# Each run, alternately:
#   - conteneur: `nombre_conteneur 1`, then `conteneur reconfigure` started
#     and GET /NAME/ through the private nginx polled every 50 ms until 200
#     (wall time from the start of reconfigure); then `nombre_conteneur 0`
#     and a reconfigure (not timed) remove the VM;
#   - bare: `qemu-img create` of the overlay (not timed), then the saved
#     command started and GET / on its forwarded port (the warm-up
#     instance's own host port) polled every 50 ms
#     until 200; then QEMU killed.
#
# Output: target/bench-results/vm/{results.csv,summary.md}, and each
# conteneur run's breakdown (`CONTENEUR_TIMINGS=1`) in timings-RUN.txt.
# Environment: BENCH_RUNS (default 5), BIN (default target/release/conteneur,
# built unless BIN is given).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-5}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$REPO/target/release/conteneur}
OUT=$REPO/target/bench-results/vm
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "tool,run,seconds" >"$CSV"

say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench-vm.sh: $*" >&2; exit 1; }

for t in docker qemu-system-x86_64 qemu-img python3 curl; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/services.sh installs it)"
done
curl -fsS -o /dev/null http://127.0.0.1:5000/v2/vm/web/tags/list \
  || die "localhost:5000/vm/web is missing: run scripts/services.sh and scripts/images-vm.sh"
[ -n "$BIN_GIVEN" ] || { say "cargo build --release"; cargo build --release --locked >&2; }

WORK=$(mktemp -d /tmp/cvb.XXXXXX)
chmod 0755 "$WORK"
ROOT=$WORK/r
NAME=bvm$$
read -r HTTP PORT < <(python3 -c '
import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(*[s.getsockname()[1] for s in ps])')
BARE_PID=
cleanup() {
  [ -n "$BARE_PID" ] && kill -9 "$BARE_PID" 2>/dev/null || true
  "$BIN" --root "$ROOT" set nombre_conteneur 0 >/dev/null 2>&1 || true
  "$BIN" --root "$ROOT" reconfigure --quiet >/dev/null 2>&1 || true
  "$BIN" --root "$ROOT" proxy stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$ROOT/usr/share/eole/creole/dicos" "$ROOT/usr/share/eole/creole/distrib"
cp dicos/*.xml "$ROOT/usr/share/eole/creole/dicos/"
cp templates/* "$ROOT/usr/share/eole/creole/distrib/"
C() { "$BIN" --root "$ROOT" "$@" >/dev/null; }
C set conteneur_proxy_mode private
C set conteneur_proxy_listen 127.0.0.1
C set conteneur_http_port "$HTTP"
C set conteneur_health_timeout 300
C set conteneur_pull_timeout 300
C set conteneur_drain_grace 0
C set nombre_conteneur 1
C set conteneur1_name "$NAME"
C set conteneur1_type vm
C set conteneur1_url localhost:5000/vm/web
C set conteneur1_tag 1.0
C set conteneur1_port_in 80
C set conteneur1_port_out "$PORT"
C set conteneur1_memory 256m
C set conteneur1_health_path /health/

# Starts a GET of URL every 50 ms, each bounded to 1 s, until one answers
# 200 (bounded: 300 s), and prints when (seconds since the epoch). The GETs
# overlap: QEMU's user network accepts a connection before the guest
# listens, and a GET sent then may wait for TCP's retransmission backoff; a
# fresh one reaches the guest as soon as it listens (conteneur's health
# check does the same). Both sides are polled this way.
first_200() {
  (
    flag=$(mktemp -u "$WORK/ok.XXXXXX")
    end=$((SECONDS + 300))
    until [ -e "$flag" ]; do
      [ "$SECONDS" -lt "$end" ] || { echo "no 200 from $1 within 300 s" >&2; exit 1; }
      { curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && date +%s.%N >>"$flag"; } &
      sleep 0.05
    done
    wait
    head -1 "$flag"
  ) || die "no 200 from $1"
}
now() { date +%s.%N; }

say "warm-up: pull, extract, one boot; the QEMU command line is saved"
"$BIN" --root "$ROOT" instance --quiet >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "instance failed"; }
STATE=$(ls "$ROOT"/var/lib/conteneur/vm/*/state.json | head -1)
QPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$STATE")
cp "/proc/$QPID/cmdline" "$WORK/qemu.argv"
VMDIR=$(dirname "$STATE")
# The instance's own host port (nginx forwards port_out to it).
BARE_PORT=$(tr '\0' '\n' <"$WORK/qemu.argv" | sed -n 's/.*hostfwd=tcp:127\.0\.0\.1:\([0-9]*\)-.*/\1/p' | head -1)
[ -n "$BARE_PORT" ] || die "no port forward in the saved QEMU command line"
read -r BACKING FORMAT < <(qemu-img info --output=json -U "$VMDIR/overlay.qcow2" | python3 -c '
import json,sys; i=json.load(sys.stdin); print(i["backing-filename"], i.get("backing-filename-format","raw"))')
C set nombre_conteneur 0
"$BIN" --root "$ROOT" reconfigure --quiet >/dev/null

for run in $(seq 1 "$RUNS"); do
  say "run $run/$RUNS: conteneur reconfigure → 200 through nginx"
  C set nombre_conteneur 1
  t0=$(now)
  CONTENEUR_TIMINGS=1 "$BIN" --root "$ROOT" reconfigure --quiet >"$WORK/out.txt" 2>&1 &
  rpid=$!
  t1=$(first_200 "http://127.0.0.1:$HTTP/$NAME/")
  wait "$rpid" || { cat "$WORK/out.txt" >&2; die "reconfigure failed"; }
  cp "$WORK/out.txt" "$OUT/timings-$run.txt"
  echo "conteneur,$run,$(python3 -c "print(round($t1-$t0,3))")" | tee -a "$CSV" >&2
  C set nombre_conteneur 0
  "$BIN" --root "$ROOT" reconfigure --quiet >/dev/null

  say "run $run/$RUNS: bare qemu-system-x86_64 → 200 on its port"
  mkdir -p "$VMDIR"
  qemu-img create -q -f qcow2 -F "$FORMAT" -b "$BACKING" "$VMDIR/overlay.qcow2"
  t0=$(now)
  xargs -0 -a "$WORK/qemu.argv" sh -c 'exec "$@"' qemu
  BARE_PID=$(cat "$VMDIR/qemu.pid")
  t1=$(first_200 "http://127.0.0.1:$BARE_PORT/")
  echo "bare,$run,$(python3 -c "print(round($t1-$t0,3))")" | tee -a "$CSV" >&2
  kill -9 "$BARE_PID"
  while kill -0 "$BARE_PID" 2>/dev/null; do sleep 0.05; done
  BARE_PID=
  rm -rf "$VMDIR"
done

python3 - "$CSV" "$OUT/summary.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by = {}
for r in rows:
    by.setdefault(r["tool"], []).append(float(r["seconds"]))
c, b = statistics.median(by["conteneur"]), statistics.median(by["bare"])
text = (
    "| to the first 200 | median | min | max | runs |\n|---|---|---|---|---|\n"
    + "".join(
        f"| {t} | {statistics.median(v):.2f} s | {min(v):.2f} s | {max(v):.2f} s | {len(v)} |\n"
        for t, v in (("conteneur reconfigure (through nginx)", by["conteneur"]),
                     ("bare qemu-system-x86_64 (its port)", by["bare"]))
    )
    + f"\nratio conteneur / bare: {c / b:.2f}×\n"
)
open(sys.argv[2], "w").write(text)
print(text)
EOF
