#!/usr/bin/env bash
# `rollback` of one container among N against its peer, a `reconfigure` tag
# change, in the same run (issue 22; BENCHMARKS.md, "Rollback", says what it
# measures and shows the figures). Not part of CI: it wants a quiet machine.
#
# N containers (default 10) of localhost:5000/demo/web (busybox httpd; tags
# 1.0 and 2.0 answer "web 1.0" and "web 2.0") are instantiated, the first
# half on 1.0, the others on 2.0. Then, BENCH_RUNS times (default 6), on
# the first container in odd runs (1.0 -> 2.0 -> 1.0) and on the last in
# even runs (2.0 -> 1.0 -> 2.0), so that both commands go both ways (a
# replace towards one tag is not quite as fast as towards the other):
#
#   - reconfigure: `set conteneurX_tag` (not timed), then `reconfigure`
#     (timed): one container replaced, N-1 left;
#   - rollback: `rollback` (timed): back to the release before, the same
#     replace; the image is local, so no pull.
#
# Between two timed commands the replaced container's drain is completed
# (grace 1 s, then `conteneur drain`, not timed), as the package's timer
# would. A request loop (BENCH_RATE a second, default 50, through nginx)
# runs during each timed command and counts failed requests.
#
# Output: target/bench-results/rollback/{results.csv,summary.md}.
# Environment: BENCH_RUNS, BENCH_N, BENCH_RATE, BIN (default
# target/release/conteneur, built first).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-6}
N=${BENCH_N:-10}
RATE=${BENCH_RATE:-50}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$REPO/target/release/conteneur}
IMAGE=localhost:5000/demo/web
OUT=$REPO/target/bench-results/rollback
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "command,n,run,to,wall_s,requests,failed,answers" >"$CSV"

say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench-rollback.sh: $*" >&2; exit 1; }

./scripts/services.sh >&2
./scripts/images.sh >&2
for t in docker python3; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/services.sh installs it)"
done
# Built every time unless BIN is given: a stale binary would measure old code.
[ -n "${BIN_GIVEN:-}" ] || { say "cargo build --release"; cargo build --release --locked >&2; }
docker pull -q "$IMAGE:1.0" >/dev/null
docker pull -q "$IMAGE:2.0" >/dev/null

WORK=$(mktemp -d /tmp/conteneur-bench-rollback.XXXXXX)
chmod 0755 "$WORK"
PREFIX=brb$$
root=
cleanup() {
  [ -n "$root" ] && "$BIN" --root "$root" proxy stop >/dev/null 2>&1 || true
  remove_all
  rm -rf "$WORK"
}
trap cleanup EXIT
remove_all() {
  local all; all=$(docker ps -aq --filter "name=^$PREFIX-")
  [ -z "$all" ] || docker rm -f $all >/dev/null
}
now() { date +%s%N; }

# The request loop: URL RATE STOP-FILE OUT-JSON; runs until STOP-FILE
# appears (at most 120 s), then writes its figures.
cat >"$WORK/load.py" <<'PY'
import http.client, json, os, sys, time
url, rate, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host, _, rest = url.partition("//")[2].partition("/")
addr, port = host.split(":")
path = "/" + rest
period = 1.0 / rate
begin = time.time()
n, failed, answers = 0, 0, {}
while time.time() - begin < 120 and not os.path.exists(stop):
    n += 1
    try:
        c = http.client.HTTPConnection(addr, int(port), timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode(errors="replace").strip()
        status = str(r.status)
        c.close()
    except Exception as e:
        status, body = "error: " + type(e).__name__, ""
    if not status.startswith("2"):
        failed += 1
    k = body if status.startswith("2") else status
    answers[k] = answers.get(k, 0) + 1
    wait = begin + period * n - time.time()
    if wait > 0:
        time.sleep(wait)
json.dump({"requests": n, "failed": failed, "answers": answers}, open(out, "w"))
PY

base=$(python3 - "$N" <<'PY'
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
base = 34000
while not all(free(p) for p in range(base, base + n + 1)):
    base += n + 1
print(base)
PY
)
http=$((base + N))

C() { "$BIN" --root "$root" "$@" >/dev/null; }

# Times CMD... under the loop on container X; one CSV line.
# Args: NAME RUN X TO CMD...
measure() {
  local name=$1 run=$2 x=$3 to=$4; shift 4
  local stop=$WORK/stop t0 t1 wall
  rm -f "$stop" "$WORK/load.json"
  python3 "$WORK/load.py" "http://127.0.0.1:$http/$PREFIX-$x/" "$RATE" "$stop" "$WORK/load.json" &
  local pid=$!
  sleep 0.5
  t0=$(now)
  "$@" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "$name: $* failed"; }
  t1=$(now)
  sleep 0.5
  touch "$stop"
  wait "$pid"
  grep -q '^ *pull' "$WORK/out.txt" && die "$name pulled an image: $(cat "$WORK/out.txt")"
  wall=$(python3 -c "print(f'{($t1 - $t0) / 1e9:.3f}')")
  python3 - "$WORK/load.json" "$name" "$N" "$run" "$to" "$wall" >>"$CSV" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ans = " ".join(f"{k}:{v}" for k, v in sorted(d["answers"].items())).replace(",", ";")
print(f"{sys.argv[2]},{sys.argv[3]},{sys.argv[4]},{sys.argv[5]},{sys.argv[6]},{d['requests']},{d['failed']},{ans}")
PY
  tail -1 "$CSV" >&2
}

# The replaced container's drain, completed (not timed).
drained() { sleep 1.2; C drain; }

say "$N containers"
remove_all
root=$WORK/root
mkdir -p "$root/usr/share/eole/creole/dicos" "$root/usr/share/eole/creole/distrib"
chmod 0755 "$root"
cp dicos/*.xml "$root/usr/share/eole/creole/dicos/"
cp templates/* "$root/usr/share/eole/creole/distrib/"
C set conteneur_proxy_mode private
C set conteneur_proxy_listen 127.0.0.1
C set conteneur_http_port "$http"
C set conteneur_drain_grace 1
C set nombre_conteneur "$N"
for i in $(seq 1 "$N"); do
  C set "conteneur${i}_name" "$PREFIX-$i"
  C set "conteneur${i}_url" "$IMAGE"
  if [ "$i" -le $((N / 2)) ]; then C set "conteneur${i}_tag" 1.0; else C set "conteneur${i}_tag" 2.0; fi
  C set "conteneur${i}_port_in" 80
  C set "conteneur${i}_port_out" "$((base + i - 1))"
  C set "conteneur${i}_health_path" /health/
done
"$BIN" --root "$root" instance --quiet >/dev/null
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then x=1 from=1.0 to=2.0; else x=$N from=2.0 to=1.0; fi
  C set "conteneur${x}_tag" "$to"
  measure reconfigure "$run" "$x" "$to" "$BIN" --root "$root" reconfigure --quiet
  drained
  measure rollback "$run" "$x" "$from" "$BIN" --root "$root" rollback --quiet
  [ "$("$BIN" --root "$root" get "conteneur${x}_tag")" = "$from" ] || die "rollback did not restore tag $from"
  drained
done
"$BIN" --root "$root" releases >"$OUT/releases.txt"

python3 - "$CSV" >"$OUT/summary.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| N | command | to tag | runs | wall (median) | wall (min … max) | failed (all runs) | requests |")
print("|---:|---|---|---:|---:|---:|---:|---:|")
for cmd in ["reconfigure", "rollback"]:
    for to in ["2.0", "1.0", "both"]:
        rs = [r for r in rows if r["command"] == cmd and (to == "both" or r["to"] == to)]
        if not rs:
            continue
        w = [float(r["wall_s"]) for r in rs]
        print(f"| {rs[0]['n']} | {cmd} | {to} | {len(rs)} | {statistics.median(w):.3f} s | {min(w):.3f} … {max(w):.3f} s | {sum(int(r['failed']) for r in rs)} | {sum(int(r['requests']) for r in rs)} |")
PY
cat "$OUT/summary.md"
