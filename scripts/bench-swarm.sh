#!/usr/bin/env bash
# A rolling update of 3 replicas after one tag change (localhost:5000/demo/web
# 1.0 <-> 2.0), on a single-node swarm of the script's own: `conteneur
# reconfigure` (which waits until Swarm converged) against `docker stack
# deploy` of the file `conteneur export stack` wrote for the same
# configuration (same update policy: parallelism 1, delay 1 s, monitor 3 s,
# start-first, health check every second), timed until the service has
# converged (UpdateStatus completed, 3 replicas running the new tag, no old
# one left). During each update a request loop (curl, 2 s timeout, one
# request every ~10 ms) hits the front's port 127.0.0.1:18081 and counts
# the requests that fail. Same run, same engine, BENCH_RUNS updates each
# (default 3). BENCHMARKS.md ("Swarm: rolling update") shows the figures.
#
# The engine runs in a network namespace of its own (as in tests/swarm.rs:
# a second dockerd in the host's namespace would rewrite the iptables
# chains of the machine's engine), with its own data root, exec root,
# pidfile and socket; everything is removed at the end, even on failure.
# Needs root, dockerd, nsenter, ip, curl, and the demo images in the
# machine's engine (scripts/images.sh).
#
# Output: target/bench-results/swarm/{results.csv,summary.md}.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-3}
# Built every time unless BIN is given: a stale binary would measure old code
# (cargo does nothing when it is up to date).
if [ -z "${BIN:-}" ]; then
  cargo build -q --release --locked
  BIN=$REPO/target/release/conteneur
fi
OUT=$REPO/target/bench-results/swarm
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "tool,run,tag,seconds,requests,failed" >"$CSV"

NS=cswbench$$
DIR=$(mktemp -d /tmp/cswbench.XXXXXX)
chmod 755 "$DIR"  # nginx workers (nobody) walk the root
SOCK=$DIR/sock
D() { docker -H "unix://$SOCK" "$@"; }
IN() { nsenter --net="/run/netns/$NS" "$@"; }
cleanup() {
  touch "$DIR/stop"
  # The private nginx conteneur started in the namespace.
  [ -n "${BIN:-}" ] && [ -d "$DIR/root" ] && \
    nsenter --net="/run/netns/$NS" "$BIN" --root "$DIR/root" proxy stop >/dev/null 2>&1 || true
  D swarm leave --force >/dev/null 2>&1 || true
  local pid; pid=$(cat "$DIR/pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  ip netns del "$NS" 2>/dev/null || true
  grep -o " $DIR[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
IN dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$DIR/pid" \
  -H "unix://$SOCK" >"$DIR/log" 2>&1 &
for _ in $(seq 100); do D version >/dev/null 2>&1 && break; sleep 0.3; done
D swarm init --advertise-addr 127.0.0.1 >/dev/null
docker -H unix:///var/run/docker.sock save localhost:5000/demo/web:1.0 localhost:5000/demo/web:2.0 \
  | D load -q >/dev/null

ROOT=$DIR/root
mkdir -p "$ROOT/usr/share/eole/creole/dicos" "$ROOT/usr/share/eole/creole/distrib"
cp dicos/* "$ROOT/usr/share/eole/creole/dicos/"
cp templates/* "$ROOT/usr/share/eole/creole/distrib/"
C() { IN env DOCKER_HOST="unix://$SOCK" "$BIN" --root "$ROOT" "$@"; }
for kv in conteneur_proxy_mode=private conteneur_proxy_listen=127.0.0.1 conteneur_http_port=18000 \
          conteneur_health_timeout=6 conteneur_orchestrator=swarm conteneur_swarm_update_delay=1 \
          conteneur_swarm_monitor=3 conteneur_swarm_wait=300 nombre_conteneur=1 \
          conteneur1_name=web conteneur1_url=localhost:5000/demo/web conteneur1_tag=1.0 \
          conteneur1_port_in=80 conteneur1_port_out=18081 conteneur1_health_path=/health/ \
          conteneur1_replicas=3; do
  C set "${kv%%=*}" "${kv#*=}" >/dev/null
done

# The request loop: ok and failed counts in $DIR/loop.out when stopped.
loop_start() {
  rm -f "$DIR/stop" "$DIR/loop.out"
  IN bash -c 'ok=0; bad=0; while [ ! -f "$1/stop" ]; do
      if curl -fsS -m 2 -o /dev/null http://127.0.0.1:18081/ 2>/dev/null; then ok=$((ok+1)); else bad=$((bad+1)); fi
      sleep 0.01; done; echo "$ok $bad" >"$1/loop.out"' _ "$DIR" &
  LOOP=$!
  sleep 1
}
loop_stop() {
  touch "$DIR/stop"
  wait "$LOOP" || true
  read -r LOK LBAD <"$DIR/loop.out"
}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

# --- conteneur -----------------------------------------------------------------
C instance --quiet >/dev/null
for tag in 1.0 2.0; do C set conteneur1_tag "$tag" >/dev/null; C export stack -o "$DIR/stack-$tag.json" --name bench 2>/dev/null; done
C set conteneur1_tag 1.0 >/dev/null
tag=1.0
for run in $(seq "$RUNS"); do
  [ "$tag" = 1.0 ] && tag=2.0 || tag=1.0
  C set conteneur1_tag "$tag" >/dev/null
  loop_start
  t0=$(now)
  C reconfigure --quiet >/dev/null
  secs=$(since "$t0")
  loop_stop
  echo "conteneur,$run,$tag,$secs,$((LOK + LBAD)),$LBAD" | tee -a "$CSV"
done
C set nombre_conteneur 0 >/dev/null
C reconfigure --quiet >/dev/null

# --- docker stack deploy -------------------------------------------------------
converged() { # service tag since
  local st; st=$(D service inspect "$1" --format '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt}}{{end}}')
  [ "${st%% *}" = completed ] && [ "${st#* }" != "$3" ] || return 1
  [ "$(D service ps "$1" --filter desired-state=running --format '{{.Image}} {{.CurrentState}}' | grep -c "web:$2 Running")" = 3 ] || return 1
  [ "$(D ps -q --filter "label=com.docker.swarm.service.name=$1" | wc -l)" = 3 ]
}
deploy() { (cd "$DIR" && D stack deploy --resolve-image never -c "stack-$1.json" bench >/dev/null 2>&1); }
deploy 1.0
for _ in $(seq 120); do [ "$(D service ps bench_web --filter desired-state=running -q | wc -l)" = 3 ] && break; sleep 0.5; done
for _ in $(seq 60); do IN curl -fsS -m 2 -o /dev/null http://127.0.0.1:18081/ 2>/dev/null && break; sleep 0.5; done
tag=1.0
for run in $(seq "$RUNS"); do
  [ "$tag" = 1.0 ] && tag=2.0 || tag=1.0
  before=$(D service inspect bench_web --format '{{if .UpdateStatus}}{{.UpdateStatus.StartedAt}}{{end}}')
  loop_start
  t0=$(now)
  deploy "$tag"
  for _ in $(seq 1200); do converged bench_web "$tag" "$before" && break; sleep 0.2; done
  secs=$(since "$t0")
  loop_stop
  echo "stack,$run,$tag,$secs,$((LOK + LBAD)),$LBAD" | tee -a "$CSV"
done
D stack rm bench >/dev/null

python3 - "$CSV" >"$OUT/summary.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| tool | updates | converged in (median, s) | min–max (s) | requests | failed |")
print("|---|---|---|---|---|---|")
for tool, label in [("conteneur", "`conteneur reconfigure`"), ("stack", "`docker stack deploy` + poll")]:
    r = [x for x in rows if x["tool"] == tool]
    s = [float(x["seconds"]) for x in r]
    print(f"| {label} | {len(r)} | {statistics.median(s):.1f} | {min(s):.1f}–{max(s):.1f} | "
          f"{sum(int(x['requests']) for x in r)} | {sum(int(x['failed']) for x in r)} |")
EOF
cat "$OUT/summary.md"
