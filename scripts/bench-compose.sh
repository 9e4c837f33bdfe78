#!/usr/bin/env bash
# conteneur against docker-compose on this machine's engine (issue 6;
# BENCHMARKS.md, "Against docker-compose", says what it measures and shows
# the figures). Not part of CI: it takes several minutes and wants a quiet
# machine.
#
# For N containers (default: 10 and 50) of localhost:5000/demo/web (busybox
# httpd, tags 1.0 and 2.0), each published on 127.0.0.1:PORT, with init,
# restart unless-stopped, stop timeout 10 s and the health path /health/:
#
#   1. cold start from nothing (no container; for conteneur a fresh root:
#      no rendered file, no nginx);
#   2. the same run again, nothing changed;
#   3. one container's tag changed (1.0 <-> 2.0, alternately);
#
# each measured BENCH_RUNS times (default 3, at least 3), median reported,
# as the whole-process wall time of
#   - `conteneur instance` (1) / `conteneur reconfigure` (2, 3), with a
#     private nginx on a free 127.0.0.1 port under a temporary --root; it
#     waits until each new container answers its health path;
#   - `docker-compose -p P -f F up -d` on the file `conteneur export compose`
#     wrote for the same configuration (same containers: image, name, ports,
#     init, restart policy, stop timeout); compose 1.29 has no `--wait`, so
#     the time until every port answers /health/ is measured too ("serving");
# and the floor: the same containers started by `docker run -d` through
# `xargs -P` (4 and N at a time), which is the engine's own cost.
#
# It also records conteneur's peak RSS (/usr/bin/time -v) and how many
# containers each tool recreated in cases 2 and 3 (container ids before and
# after). Images are pulled before anything is measured (both tags), so no
# run pays a pull. BENCH_PARALLEL="4 8 16" (default "4 16") also times
# conteneur's cold start of the largest N with each conteneur_parallel.
#
# Output: target/bench-results/compose/{results.csv,summary.md}.
# Environment: BENCH_RUNS, BENCH_SIZES (default "10 50"), BENCH_PARALLEL,
# BIN (default target/release/conteneur, built first unless given).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-3}
[ "$RUNS" -ge 3 ] || RUNS=3
SIZES=${BENCH_SIZES:-"10 50"}
PARALLELS=${BENCH_PARALLEL:-"4 16"}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$REPO/target/release/conteneur}
IMAGE=localhost:5000/demo/web
OUT=$REPO/target/bench-results/compose
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "tool,n,case,run,seconds,recreated,max_rss_kb,cpu_seconds" >"$CSV"

say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench-compose.sh: $*" >&2; exit 1; }

# --- what it needs ------------------------------------------------------------
./scripts/services.sh >&2
./scripts/images.sh >&2
for t in docker docker-compose python3 curl; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/services.sh installs it)"
done
if [ ! -x /usr/bin/time ]; then
  [ "$(id -u)" -eq 0 ] || die "/usr/bin/time is missing: apt-get install time"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
# Built every time unless BIN is given: a stale binary would measure old code
# (cargo does nothing when it is up to date).
[ -n "${BIN_GIVEN:-}" ] || { say "cargo build --release"; cargo build --release --locked >&2; }
docker pull -q "$IMAGE:1.0" >/dev/null
docker pull -q "$IMAGE:2.0" >/dev/null

WORK=$(mktemp -d /tmp/conteneur-bench-compose.XXXXXX)
# nginx's workers (user nobody) must reach the roots below it.
chmod 0755 "$WORK"
PREFIX=bcmp$$
current_root=
compose_file=
cleanup() {
  [ -n "$current_root" ] && "$BIN" --root "$current_root" proxy stop >/dev/null 2>&1 || true
  [ -n "$compose_file" ] && [ -f "$compose_file" ] &&
    docker-compose -p "$PREFIX" -f "$compose_file" down -t 1 >/dev/null 2>&1 || true
  remove_all
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s%N; }
secs() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.3f}')" "$1" "$2"; }

# Every container of this benchmark, whoever made it.
ids() { docker ps -aq --filter "name=^$PREFIX-" | sort; }
remove_all() {
  local all; all=$(ids)
  [ -z "$all" ] || docker rm -f $all >/dev/null
}
# "name id" of every container of the benchmark, to count recreations.
snapshot() { docker ps -a --filter "name=^$PREFIX-" --format '{{.Names}} {{.ID}}' | sort; }
recreated() { comm -13 <(echo "$1") <(echo "$2") | grep -c . || true; }

# N free consecutive ports on 127.0.0.1, then one more for nginx.
free_ports() {
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
base = 31000
while not all(free(p) for p in range(base, base + n + 1)):
    base += n + 1
print(base)
PY
}

# Waits until every port answers GET /health/ (the "serving" time).
wait_serving() {
  python3 - "$@" <<'PY'
import http.client, sys, time
ports = [int(p) for p in sys.argv[1:]]
deadline = time.time() + 60
while ports and time.time() < deadline:
    left = []
    for p in ports:
        try:
            c = http.client.HTTPConnection("127.0.0.1", p, timeout=2)
            c.request("GET", "/health/")
            if c.getresponse().status >= 400:
                left.append(p)
            c.close()
        except OSError:
            left.append(p)
    ports = left
    if ports:
        time.sleep(0.02)
sys.exit(1 if ports else 0)
PY
}

record() { echo "$1,$2,$3,$4,$5,$6,$7,${8:-}" >>"$CSV"; }

# A conteneur root with N containers, not instantiated: dictionaries,
# templates, config.eol. Args: DIR N BASE_PORT PARALLEL
make_root() {
  local r=$1 n=$2 base=$3 par=$4 i
  mkdir -p "$r/usr/share/eole/creole/dicos" "$r/usr/share/eole/creole/distrib"
  chmod 0755 "$r"
  cp dicos/*.xml "$r/usr/share/eole/creole/dicos/"
  cp templates/* "$r/usr/share/eole/creole/distrib/"
  C() { "$BIN" --root "$r" "$@" >/dev/null; }
  C set conteneur_proxy_mode private
  C set conteneur_proxy_listen 127.0.0.1
  C set conteneur_http_port "$((base + n))"
  C set conteneur_parallel "$par"
  C set nombre_conteneur "$n"
  for i in $(seq 1 "$n"); do
    C set "conteneur${i}_name" "$PREFIX-$i"
    C set "conteneur${i}_url" "$IMAGE"
    C set "conteneur${i}_tag" 1.0
    C set "conteneur${i}_port_in" 80
    C set "conteneur${i}_port_out" "$((base + i - 1))"
    C set "conteneur${i}_health_path" /health/
  done
}

# Runs conteneur under /usr/bin/time; sets T (seconds), RSS (kB) and CPU
# (user + system seconds: what conteneur itself computes, without waiting).
timed_conteneur() {
  local root=$1; shift
  local t0 t1
  t0=$(now)
  /usr/bin/time -v -o "$WORK/time.txt" "$BIN" --root "$root" "$@" --quiet >"$WORK/out.txt" 2>&1 ||
    { cat "$WORK/out.txt" >&2; die "conteneur $* failed"; }
  t1=$(now)
  T=$(secs "$t0" "$t1")
  RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  CPU=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$WORK/time.txt")
}

flip() { if [ "$1" = 1.0 ]; then echo 2.0; else echo 1.0; fi; }

# --- conteneur --------------------------------------------------------------
bench_conteneur() {
  local n=$1 base=$2 par=$3 cases=$4 run root before after tag=1.0
  say "conteneur, $n containers, conteneur_parallel=$par"
  make_root "$WORK/template-$n-$par" "$n" "$base" "$par"
  for run in $(seq 1 "$RUNS"); do
    remove_all
    root=$WORK/root-$n-$par-$run
    cp -a "$WORK/template-$n-$par" "$root"
    current_root=$root
    timed_conteneur "$root" instance
    record conteneur "$n" "cold/p$par" "$run" "$T" "" "$RSS" "$CPU"
    echo "  cold run $run: $T s, $RSS kB, CPU $CPU s" >&2
    if [ "$run" -lt "$RUNS" ]; then "$BIN" --root "$root" proxy stop >/dev/null; fi
  done
  [ "$cases" = all ] || { "$BIN" --root "$root" proxy stop >/dev/null; remove_all; return; }
  for run in $(seq 1 "$RUNS"); do
    before=$(snapshot)
    timed_conteneur "$root" reconfigure
    after=$(snapshot)
    record conteneur "$n" noop "$run" "$T" "$(recreated "$before" "$after")" "$RSS" "$CPU"
    echo "  no-op run $run: $T s, recreated $(recreated "$before" "$after")" >&2
  done
  for run in $(seq 1 "$RUNS"); do
    tag=$(flip "$tag")
    "$BIN" --root "$root" set conteneur1_tag "$tag" >/dev/null
    before=$(snapshot)
    timed_conteneur "$root" reconfigure
    after=$(snapshot)
    record conteneur "$n" tag "$run" "$T" "$(recreated "$before" "$after")" "$RSS" "$CPU"
    echo "  tag run $run ($tag): $T s, recreated $(recreated "$before" "$after")" >&2
  done
  # The compose file of the same configuration (tag back to 1.0).
  "$BIN" --root "$root" set conteneur1_tag 1.0 >/dev/null
  "$BIN" --root "$root" export compose --output "$WORK/compose-$n.json" 2>/dev/null
  "$BIN" --root "$root" proxy stop >/dev/null
  current_root=
  remove_all
}

# --- docker-compose ---------------------------------------------------------
bench_compose() {
  local n=$1 base=$2 run before after t0 t1 t2 tag=1.0 ports
  compose_file=$WORK/compose-$n.json
  local root=$WORK/root-$n-4-$RUNS
  ports=$(seq "$base" "$((base + n - 1))")
  dc() { docker-compose -p "$PREFIX" -f "$compose_file" "$@"; }
  say "docker-compose $(docker-compose version --short), $n containers"
  for run in $(seq 1 "$RUNS"); do
    dc down -t 1 >/dev/null 2>&1 || true
    remove_all
    t0=$(now)
    dc up -d >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "compose up failed"; }
    t1=$(now)
    # shellcheck disable=SC2086
    wait_serving $ports || die "compose: not every port answered"
    t2=$(now)
    record compose "$n" cold "$run" "$(secs "$t0" "$t1")" "" ""
    record compose "$n" cold+serving "$run" "$(secs "$t0" "$t2")" "" ""
    echo "  cold run $run: $(secs "$t0" "$t1") s (serving after $(secs "$t0" "$t2") s)" >&2
  done
  for run in $(seq 1 "$RUNS"); do
    before=$(snapshot)
    t0=$(now); dc up -d >/dev/null 2>&1; t1=$(now)
    after=$(snapshot)
    record compose "$n" noop "$run" "$(secs "$t0" "$t1")" "$(recreated "$before" "$after")" ""
    echo "  no-op run $run: $(secs "$t0" "$t1") s, recreated $(recreated "$before" "$after")" >&2
  done
  for run in $(seq 1 "$RUNS"); do
    tag=$(flip "$tag")
    # The admin's way: change the value, export again (not timed).
    "$BIN" --root "$root" set conteneur1_tag "$tag" >/dev/null
    "$BIN" --root "$root" export compose --output "$compose_file" 2>/dev/null
    before=$(snapshot)
    t0=$(now); dc up -d >/dev/null 2>&1; t1=$(now)
    wait_serving "$base" || die "compose: the changed container does not answer"
    t2=$(now)
    after=$(snapshot)
    record compose "$n" tag "$run" "$(secs "$t0" "$t1")" "$(recreated "$before" "$after")" ""
    record compose "$n" tag+serving "$run" "$(secs "$t0" "$t2")" "" ""
    echo "  tag run $run ($tag): $(secs "$t0" "$t1") s, recreated $(recreated "$before" "$after")" >&2
  done
  dc down -t 1 >/dev/null 2>&1 || true
  compose_file=
  remove_all
}

# --- the floor: docker run -d in parallel -----------------------------------
bench_floor() {
  local n=$1 base=$2 p run t0 t1
  for p in 4 "$n"; do
    say "docker run -d, $n containers, xargs -P $p"
    for run in $(seq 1 "$RUNS"); do
      remove_all
      t0=$(now)
      seq 1 "$n" | xargs -P "$p" -I{} sh -c \
        'docker run -d -q --name "$0-$1" --init --restart unless-stopped --stop-timeout 10 \
           -p "127.0.0.1:$(($2 + $1 - 1)):80" "$3:1.0" >/dev/null' "$PREFIX" {} "$base" "$IMAGE"
      t1=$(now)
      record "docker-run-P$p" "$n" cold "$run" "$(secs "$t0" "$t1")" "" ""
      echo "  run $run: $(secs "$t0" "$t1") s" >&2
    done
  done
  remove_all
}

uptime >&2
for n in $SIZES; do
  base=$(free_ports "$n")
  bench_conteneur "$n" "$base" 4 all
  bench_compose "$n" "$base"
  bench_floor "$n" "$base"
done
largest=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -1)
for p in $PARALLELS; do
  [ "$p" = 4 ] && continue
  base=$(free_ports "$largest")
  bench_conteneur "$largest" "$base" "$p" cold
done
uptime >&2

# --- summary ----------------------------------------------------------------
python3 - "$CSV" >"$OUT/summary.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def med(tool, n, case, field="seconds"):
    v = [float(r[field]) for r in rows if r["tool"] == tool and r["n"] == n and r["case"] == case and r[field]]
    return statistics.median(v) if v else None
def mx(tool, n, case, field):
    v = [int(r[field]) for r in rows if r["tool"] == tool and r["n"] == n and r["case"] == case and r[field]]
    return max(v) if v else None
def f(x, unit=" s"):
    return "–" if x is None else f"{x:.3f}{unit}"
sizes = sorted({r["n"] for r in rows}, key=int)
print("| N | case | conteneur | compose `up -d` | compose ratio | compose until serving | recreated conteneur / compose | conteneur peak RSS | conteneur CPU |")
print("|---:|---|---:|---:|---:|---:|---|---:|---:|")
for n in sizes:
    for case, ccase, label in [("cold/p4", "cold", "1. cold start"), ("noop", "noop", "2. no change"), ("tag", "tag", "3. one tag changed")]:
        c, d = med("conteneur", n, case), med("compose", n, ccase)
        serving = med("compose", n, ccase + "+serving") if ccase != "noop" else d
        ratio = "–" if not c or not d else f"{d / c:.2f}x"
        rc = med("conteneur", n, case, "recreated")
        rd = med("compose", n, ccase, "recreated")
        rec = "–" if ccase == "cold" else f"{rc:.0f} / {rd:.0f}"
        rss = mx("conteneur", n, case, "max_rss_kb")
        cpu = med("conteneur", n, case, "cpu_seconds")
        print(f"| {n} | {label} | {f(c)} | {f(d)} | {ratio} | {f(serving)} | {rec} | {'–' if rss is None else f'{rss/1024:.1f} MB'} | {f(cpu)} |")
print()
print("| N | `docker run -d`, xargs -P 4 | xargs -P N | conteneur cold / best floor |")
print("|---:|---:|---:|---:|")
for n in sizes:
    p4, pn = med("docker-run-P4", n, "cold"), med(f"docker-run-P{n}", n, "cold")
    c = med("conteneur", n, "cold/p4")
    best = min(x for x in (p4, pn) if x is not None) if (p4 or pn) else None
    print(f"| {n} | {f(p4)} | {f(pn)} | {'–' if not c or not best else f'{c / best:.2f}x'} |")
print()
pars = sorted({r["case"] for r in rows if r["tool"] == "conteneur" and r["case"].startswith("cold/p")}, key=lambda c: int(c[6:]))
if len(pars) > 1:
    n = sizes[-1]
    print(f"| conteneur_parallel | cold start of {n} | peak RSS |")
    print("|---:|---:|---:|")
    for p in pars:
        m = med("conteneur", n, p)
        rss = mx("conteneur", n, p, "max_rss_kb")
        if m is not None:
            print(f"| {p[6:]} | {f(m)} | {rss/1024:.1f} MB |")
PY
cat "$OUT/summary.md"
echo "raw runs: $CSV" >&2
