#!/usr/bin/env bash
# `conteneur status` on 200 healthy containers (target: < 2 s; BENCHMARKS.md),
# and one round of the reporter (`conteneur watch --once`, target: < 0.5 s)
# beside `docker stats --no-stream` of the same containers.
#
#   1. a server under a temporary --root with 200 containers, each a busybox
#      httpd from localhost:5000/demo/web:1.0 on a port of its own, and a
#      private nginx; `instance` makes them;
#   2. `status` timed with hyperfine (BENCH_RUNS runs, default 10);
#   3. `watch --once` (textfile target in the root) and `docker stats
#      --no-stream` of the same containers, timed together with hyperfine;
#      the round's peak RSS with /usr/bin/time;
#   4. everything removed: the containers (by their server label), the
#      private nginx, the root.
#
# Needs the machine's Docker engine and the loopback registry with the demo
# images (scripts/services.sh, scripts/images.sh), hyperfine, and root (as
# the other engine scripts). Results go to target/bench-results/status.md
# and .json.
#
# Environment: BENCH_CONTAINERS (default 200), BENCH_RUNS (default 10),
# BENCH_JOBS (cargo -j, default 1), BENCH_PROFILE (release or debug,
# default release), BENCH_PORT_BASE (first host port, default 21000),
# BENCH_KEEP=1 (leave the containers and the root for more measurements;
# the script prints how to remove them), BENCH_WATCH_SECONDS (default 0:
# skipped; 600 for the issue's 10 minutes of `watch`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n== %s\n' "$*"; }

# Run under `flock /tmp/cargo.lock` (RULES.md), every child would inherit
# the lock's descriptor, and the private nginx `instance` starts (kept with
# BENCH_KEEP=1) would hold the lock long after the script ends. flock(1)
# keeps its own descriptor: closing this shell's copy releases nothing.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  case $(readlink "$fd" 2>/dev/null) in
    */cargo.lock) [ "$n" -gt 2 ] && eval "exec $n>&-" ;;
  esac
done

n=${BENCH_CONTAINERS:-200}
runs=${BENCH_RUNS:-10}
jobs=${BENCH_JOBS:-1}
profile=${BENCH_PROFILE:-release}
base=${BENCH_PORT_BASE:-21000}

command -v hyperfine >/dev/null 2>&1 || { echo "bench-status.sh: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }
docker version >/dev/null 2>&1 || { echo "bench-status.sh: the Docker engine is not reachable (scripts/services.sh)" >&2; exit 1; }
curl -fsS http://127.0.0.1:5000/v2/demo/web/tags/list >/dev/null || { echo "bench-status.sh: the loopback registry or its demo images are missing (scripts/services.sh, scripts/images.sh)" >&2; exit 1; }

say "cargo build ($profile)"
if [ "$profile" = release ]; then
  cargo build --release --locked -j "$jobs"
else
  cargo build --locked -j "$jobs"
fi
bin=$repo/target/$profile/conteneur

out=$repo/target/bench-results
mkdir -p "$out"
root=$(mktemp -d /tmp/conteneur-bench-status.XXXXXX)
chmod 755 "$root"
tag=bs$$
c() { "$bin" --root "$root" "$@"; }

cleanup() {
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    echo "kept: $root (remove: $bin --root $root proxy stop; docker rm -f \$(docker ps -aq --filter label=fr.eole.conteneur.server=$root); rm -rf $root)"
    return
  fi
  c proxy stop >/dev/null 2>&1 || true
  server=$(readlink -f "$root")
  ids=$(docker ps -aq --filter "label=fr.eole.conteneur.server=$server")
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  rm -rf "$root"
}
trap cleanup EXIT

# Our dictionaries and templates where EOLE keeps them, as the package does.
mkdir -p "$root/usr/share/eole/creole/dicos" "$root/usr/share/eole/creole/distrib"
cp dicos/*.xml "$root/usr/share/eole/creole/dicos/"
cp templates/* "$root/usr/share/eole/creole/distrib/"

# Every port the containers and nginx need must be free.
http=$((base + n + 1))
for p in $(seq "$base" "$http"); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "bench-status.sh: port $p is in use; set BENCH_PORT_BASE" >&2
    exit 1
  fi
done

say "configuring $n containers under $root"
c set conteneur_proxy_mode private
c set conteneur_proxy_listen 127.0.0.1
c set conteneur_http_port "$http"
c set conteneur_parallel 16
c set nombre_conteneur "$n"
for x in $(seq 1 "$n"); do
  c set "conteneur${x}_name" "$tag-$x"
  c set "conteneur${x}_url" localhost:5000/demo/web
  c set "conteneur${x}_tag" 1.0
  c set "conteneur${x}_port_in" 80
  c set "conteneur${x}_port_out" $((base + x))
done

say "instance ($n containers)"
time c instance --quiet | tail -1

say "status once (all healthy, exit 0)"
c status >"$out/status.txt"
healthy=$(grep -c " healthy " "$out/status.txt" || true)
echo "$healthy of $n healthy"
[ "$healthy" -eq "$n" ] || { cat "$out/status.txt"; echo "bench-status.sh: not every container is healthy" >&2; exit 1; }

say "hyperfine: status of $n containers"
hyperfine -N --warmup 1 --runs "$runs" \
  --export-markdown "$out/status.md" --export-json "$out/status.json" \
  "$bin --root $root status"

say "hyperfine: one watch round of $n containers, and docker stats --no-stream of the same"
mkdir -p "$root/prom"
c set conteneur_report_textfile /prom
server=$(readlink -f "$root")
ids=$(docker ps -q --filter "label=fr.eole.conteneur.server=$server" | tr '\n' ' ')
hyperfine -N --warmup 1 --runs "$runs" \
  --export-markdown "$out/watch.md" --export-json "$out/watch.json" \
  -n "conteneur watch --once" "$bin --root $root watch --once" \
  -n "docker stats --no-stream" "docker stats --no-stream $ids"
/usr/bin/time -f "watch --once: %e s, %M KB max RSS, %U s user, %S s system" "$bin" --root "$root" watch --once

# The reporter's cost over time: `conteneur watch` at its default interval
# (15 s) for BENCH_WATCH_SECONDS, its CPU from /proc/PID/stat (utime +
# stime) and its memory (VmHWM, VmRSS).
watch_secs=${BENCH_WATCH_SECONDS:-0}
if [ "$watch_secs" -gt 0 ]; then
  say "conteneur watch for $watch_secs s (interval 15 s)"
  "$bin" --root "$root" watch >"$out/watch-run.log" 2>&1 &
  wpid=$!
  sleep 1
  tck=$(getconf CLK_TCK)
  t0=$(awk '{print $14+$15}' "/proc/$wpid/stat"); s0=$(date +%s.%N)
  sleep "$watch_secs"
  t1=$(awk '{print $14+$15}' "/proc/$wpid/stat"); s1=$(date +%s.%N)
  mem=$(grep -E 'VmHWM|VmRSS' "/proc/$wpid/status" | tr -s ' \t' ' ' | tr '\n' ' ')
  kill "$wpid"; wait "$wpid" 2>/dev/null || true
  awk -v t="$((t1 - t0))" -v hz="$tck" -v s0="$s0" -v s1="$s1" -v mem="$mem" \
    'BEGIN { printf "watch: %.2f s of CPU over %.0f s: %.3f %% of one core; %s\n", t/hz, s1-s0, t/hz*100/(s1-s0), mem }' \
    | tee "$out/watch-cost.txt"
fi
