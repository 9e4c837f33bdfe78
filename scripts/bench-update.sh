#!/usr/bin/env bash
# One tag change under load, conteneur against docker-compose 1.29 (issue 12;
# BENCHMARKS.md, "Updates under load", says what it measures and shows the
# figures). Not part of CI: it takes a few minutes and wants a quiet machine.
#
# For N containers (default: 10 and 50) of localhost:5000/demo/web (busybox
# httpd; tags 1.0 and 2.0 answer "web 1.0" and "web 2.0"), the first one's
# tag is changed (1.0 <-> 2.0) while a bounded request loop (BENCH_RATE
# requests a second, default 100, on fresh connections, at most 60 s) asks
# it for its page, BENCH_RUNS times (default 3) for each tool:
#
#   - conteneur: `set conteneur1_tag` (not timed), then `reconfigure`; the
#     loop goes through nginx (http://127.0.0.1:HTTP/NAME/), and a second
#     one, the same, straight to port_out (127.0.0.1:PORT, nginx's stream
#     forward). Replaced containers drain afterwards (the drain journal,
#     grace conteneur_drain_grace, 30 s; completed by `conteneur drain`,
#     which this script runs between runs as the package's timer would):
#     reconfigure does not wait for the old container's stop.
#   - docker-compose: the same `set`, `conteneur export compose` again (not
#     timed), then `docker-compose -p P -f F up -d`; compose has no proxy:
#     the loop goes to port_out, which the container publishes itself.
#
# Each loop counts answers by status and by version, and gives:
#   failed   requests without a 2xx answer (refused, reset, 502…);
#   switch   from the command's start to the first answer of the new version;
#   p99      the 99th percentile latency of the requests sent from the
#            command's start to 1 s after the switch;
#   wall     the whole command's wall time.
# The loop stops itself 2 s after the first new answer (or after 60 s).
#
# Output: target/bench-results/update/{results.csv,summary.md}.
# Environment: BENCH_RUNS, BENCH_SIZES (default "10 50"), BENCH_RATE,
# BIN (default target/release/conteneur, built first).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-3}
SIZES=${BENCH_SIZES:-"10 50"}
RATE=${BENCH_RATE:-100}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$REPO/target/release/conteneur}
IMAGE=localhost:5000/demo/web
OUT=$REPO/target/bench-results/update
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "tool,n,run,entry,wall_s,switch_s,p99_ms,requests,failed,answers" >"$CSV"

say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench-update.sh: $*" >&2; exit 1; }

./scripts/services.sh >&2
./scripts/images.sh >&2
for t in docker docker-compose python3; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/services.sh installs it)"
done
# Built every time unless BIN is given: a stale binary would measure old code
# (cargo does nothing when it is up to date).
[ -n "${BIN_GIVEN:-}" ] || { say "cargo build --release"; cargo build --release --locked >&2; }
docker pull -q "$IMAGE:1.0" >/dev/null
docker pull -q "$IMAGE:2.0" >/dev/null

WORK=$(mktemp -d /tmp/conteneur-bench-update.XXXXXX)
chmod 0755 "$WORK"
PREFIX=bupd$$
root=
compose_file=
cleanup() {
  [ -n "$root" ] && "$BIN" --root "$root" proxy stop >/dev/null 2>&1 || true
  [ -n "$compose_file" ] && [ -f "$compose_file" ] &&
    docker-compose -p "$PREFIX" -f "$compose_file" down -t 1 >/dev/null 2>&1 || true
  remove_all
  rm -rf "$WORK"
}
trap cleanup EXIT
remove_all() {
  local all; all=$(docker ps -aq --filter "name=^$PREFIX-")
  [ -z "$all" ] || docker rm -f $all >/dev/null
}
now() { date +%s%N; }

# The request loop: URL RATE NEW-VERSION OUT-JSON; prints nothing, writes
# its figures as JSON once it stops. The command's start time is read from
# the file T0 when it appears (written just before the command runs).
cat >"$WORK/load.py" <<'PY'
import http.client, json, os, sys, time
url, rate, new, out, t0_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
host, _, rest = url.partition("//")[2].partition("/")
addr, port = host.split(":")
path = "/" + rest
period = 1.0 / rate
begin = time.time()
reqs = []  # (sent, latency, status, body)
first_new = None
while time.time() - begin < 60:
    if first_new and time.time() > first_new + 2:
        break
    sent = time.time()
    try:
        c = http.client.HTTPConnection(addr, int(port), timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        status = str(r.status)
        c.close()
    except Exception as e:
        status, body = "error: " + type(e).__name__, ""
    lat = time.time() - sent
    reqs.append((sent, lat, status, body))
    if first_new is None and status.startswith("2") and body == new and os.path.exists(t0_file):
        first_new = sent + lat
    wait = begin + period * len(reqs) - time.time()
    if wait > 0:
        time.sleep(wait)
t0 = int(open(t0_file).read()) / 1e9 if os.path.exists(t0_file) else begin
window = [l for (s, l, _, _) in reqs if t0 <= s <= (first_new or s) + 1]
window.sort()
p99 = window[min(len(window) - 1, int(len(window) * 0.99))] * 1000 if window else 0
answers = {}
for (_, _, st, b) in reqs:
    k = b if st.startswith("2") else st
    answers[k] = answers.get(k, 0) + 1
json.dump({
    "requests": len(reqs),
    "failed": sum(1 for r in reqs if not r[2].startswith("2")),
    "switch": (first_new - t0) if first_new else None,
    "p99_ms": p99,
    "answers": answers,
}, open(out, "w"))
PY

free_base() {
  python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
base = 33000
while not all(free(p) for p in range(base, base + n + 1)):
    base += n + 1
print(base)
PY
}

C() { "$BIN" --root "$root" "$@" >/dev/null; }

# Runs CMD... under the loops on ENTRIES ("name=url ..."), records a line per
# entry. Args: TOOL N RUN NEW "ENTRIES" CMD...
measure() {
  local tool=$1 n=$2 run=$3 new=$4 entries=$5; shift 5
  local t0file=$WORK/t0 pids=() e name url t0 t1 wall
  rm -f "$t0file" "$WORK"/load-*.json
  for e in $entries; do
    name=${e%%=*}; url=${e#*=}
    python3 "$WORK/load.py" "$url" "$RATE" "$new" "$WORK/load-$name.json" "$t0file" &
    pids+=($!)
  done
  sleep 1
  t0=$(now); echo "$t0" >"$t0file"
  "$@" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "$tool: $* failed"; }
  t1=$(now)
  wait "${pids[@]}"
  wall=$(python3 -c "print(f'{($t1 - $t0) / 1e9:.3f}')")
  for e in $entries; do
    name=${e%%=*}
    python3 - "$WORK/load-$name.json" "$tool" "$n" "$run" "$name" "$wall" >>"$CSV" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sw = f"{d['switch']:.3f}" if d["switch"] is not None else "none"
ans = " ".join(f"{k}:{v}" for k, v in sorted(d["answers"].items())).replace(",", ";")
print(f"{sys.argv[2]},{sys.argv[3]},{sys.argv[4]},{sys.argv[5]},{sys.argv[6]},{sw},{d['p99_ms']:.1f},{d['requests']},{d['failed']},{ans}")
PY
    tail -1 "$CSV" >&2
  done
}

flip() { if [ "$1" = 1.0 ]; then echo 2.0; else echo 1.0; fi; }

for n in $SIZES; do
  base=$(free_base "$n")
  http=$((base + n))
  say "$n containers: conteneur"
  remove_all
  root=$WORK/root-$n
  mkdir -p "$root/usr/share/eole/creole/dicos" "$root/usr/share/eole/creole/distrib"
  chmod 0755 "$root"
  cp dicos/*.xml "$root/usr/share/eole/creole/dicos/"
  cp templates/* "$root/usr/share/eole/creole/distrib/"
  C set conteneur_proxy_mode private
  C set conteneur_proxy_listen 127.0.0.1
  C set conteneur_http_port "$http"
  C set nombre_conteneur "$n"
  for i in $(seq 1 "$n"); do
    C set "conteneur${i}_name" "$PREFIX-$i"
    C set "conteneur${i}_url" "$IMAGE"
    C set "conteneur${i}_tag" 1.0
    C set "conteneur${i}_port_in" 80
    C set "conteneur${i}_port_out" "$((base + i - 1))"
    C set "conteneur${i}_health_path" /health/
  done
  "$BIN" --root "$root" instance --quiet >/dev/null
  tag=1.0
  for run in $(seq 1 "$RUNS"); do
    tag=$(flip "$tag")
    C set conteneur1_tag "$tag"
    measure conteneur "$n" "$run" "web $tag" \
      "nginx=http://127.0.0.1:$http/$PREFIX-1/ port_out=http://127.0.0.1:$base/" \
      env CONTENEUR_TIMINGS=1 "$BIN" --root "$root" reconfigure --quiet
    # Where the time went (src/timing.rs), for BENCHMARKS.md's breakdown.
    grep '^timing:' "$WORK/out.txt" >"$OUT/timings-$n-$run.txt" || true
    # What conteneur-drain.timer does on a server: the replaced container
    # goes once its drain is over (here, with no systemd, at the next run).
  done

  say "$n containers: docker-compose"
  "$BIN" --root "$root" proxy stop >/dev/null
  remove_all
  compose_file=$WORK/compose-$n.json
  C set conteneur1_tag 1.0
  "$BIN" --root "$root" export compose --output "$compose_file"
  docker-compose -p "$PREFIX" -f "$compose_file" up -d >/dev/null 2>&1
  sleep 2
  tag=1.0
  for run in $(seq 1 "$RUNS"); do
    tag=$(flip "$tag")
    C set conteneur1_tag "$tag"
    "$BIN" --root "$root" export compose --output "$compose_file"
    measure compose "$n" "$run" "web $tag" "port_out=http://127.0.0.1:$base/" \
      docker-compose -p "$PREFIX" -f "$compose_file" up -d
  done
  docker-compose -p "$PREFIX" -f "$compose_file" down -t 1 >/dev/null 2>&1
  compose_file=
  remove_all
  root=
done

python3 - "$CSV" >"$OUT/summary.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
keys = []
for r in rows:
    k = (r["n"], r["tool"], r["entry"])
    if k not in keys:
        keys.append(k)
print("| N | tool | entry | failed (all runs) | switch (median) | p99 during the switch (median) | wall (median) | requests |")
print("|---:|---|---|---:|---:|---:|---:|---:|")
for k in keys:
    rs = [r for r in rows if (r["n"], r["tool"], r["entry"]) == k]
    med = lambda f: statistics.median(float(r[f]) for r in rs if r[f] != "none") if any(r[f] != "none" for r in rs) else float("nan")
    print(f"| {k[0]} | {k[1]} | {k[2]} | {sum(int(r['failed']) for r in rs)} | {med('switch_s'):.3f} s | {med('p99_ms'):.1f} ms | {med('wall_s'):.3f} s | {sum(int(r['requests']) for r in rs)} |")
PY
cat "$OUT/summary.md"
