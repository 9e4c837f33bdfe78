#!/usr/bin/env bash
# Cold start of an application of two containers, conteneur against
# docker-compose 1.29 on the file `conteneur export compose` writes, in the
# same run (BENCHMARKS.md, "An application: WordPress and MariaDB"). Not part
# of CI: it takes a few minutes and wants a quiet machine. Run as root.
#
# The pair of tests/apps.rs and the demo: wordpress (localhost:5000/apps/
# wordpress:6.1, published at /wordpress/ through a private nginx, on network
# wp, depends on db) and its MariaDB (apps/mariadb:10.11, no host port, on
# wp, a fresh named volume, so each run initialises the database; health
# check `mysqladmin ping`; password a generated secret given as a file).
#
# Each run starts from nothing (no container, no network, no volume; for
# conteneur a fresh root) and measures, wall time:
#   - conteneur: `conteneur instance` (it returns once db is healthy and
#     wordpress answers its health path), then until the installer answers
#     through nginx (GET /wordpress/wp-admin/install.php: 200 with the form);
#   - compose: `docker-compose -p P -f F up -d` (1.29 waits for db to be
#     healthy before starting wordpress: depends_on condition
#     service_healthy; it has no --wait for the rest), then until the
#     installer answers through the same nginx, polled every 50 ms.
# Images are pulled before anything is timed.
#
# Output: target/bench-results/apps/{results.csv,summary.md}.
# Environment: BENCH_RUNS (default 3), BIN (default target/release/conteneur).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
RUNS=${BENCH_RUNS:-3}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-$REPO/target/release/conteneur}
OUT=$REPO/target/bench-results/apps
mkdir -p "$OUT"
CSV=$OUT/results.csv
echo "tool,run,case,seconds" >"$CSV"

say() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench-apps.sh: $*" >&2; exit 1; }

./scripts/services.sh >&2
./scripts/images-apps.sh >&2
for t in docker docker-compose python3 curl; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/services.sh installs it)"
done
# Built every time unless BIN is given: a stale binary would measure old code
# (cargo does nothing when it is up to date).
[ -n "${BIN_GIVEN:-}" ] || { say "cargo build --release"; cargo build --release --locked >&2; }
docker pull -q localhost:5000/apps/wordpress:6.1 >/dev/null
docker pull -q localhost:5000/apps/mariadb:10.11 >/dev/null
if docker inspect --type container wordpress >/dev/null 2>&1; then
  die "a container named wordpress exists (the demo's?): stop it first (scripts/demo.sh stop)"
fi

WORK=$(mktemp -d /tmp/conteneur-bench-apps.XXXXXX)
chmod 0755 "$WORK"
P=bapp$$
DB=${P}db
VOL=${P}data
read -r HTTP WPPORT < <(python3 -c '
import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(*[s.getsockname()[1] for s in ps])')
current_root=
compose_file=
remove_all() {
  docker rm -f wordpress "$DB" >/dev/null 2>&1 || true
  local n server
  # conteneur's networks of this benchmark's roots, and compose's.
  for n in $(docker network ls -q --filter label=fr.eole.conteneur.managed); do
    server=$(docker network inspect -f '{{index .Labels "fr.eole.conteneur.server"}}' "$n" 2>/dev/null || true)
    case $server in "$WORK"/*) docker network rm "$n" >/dev/null 2>&1 || true ;; esac
  done
  docker network rm "${P}_wp" >/dev/null 2>&1 || true
  docker volume rm -f "$VOL" >/dev/null 2>&1 || true
}
cleanup() {
  [ -n "$compose_file" ] && docker-compose -p "$P" -f "$compose_file" down -t 1 >/dev/null 2>&1 || true
  [ -n "$current_root" ] && "$BIN" --root "$current_root" proxy stop >/dev/null 2>&1 || true
  remove_all
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s%N; }
secs() { python3 -c "import sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) / 1e9:.3f}')" "$1" "$2"; }
record() { echo "$1,$2,$3,$4" >>"$CSV"; }

# Until the installer answers through nginx (at most 180 s).
wait_installer() {
  python3 - "$HTTP" <<'PY'
import http.client, sys, time
port = int(sys.argv[1])
deadline = time.time() + 180
while time.time() < deadline:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/wordpress/wp-admin/install.php")
        r = c.getresponse()
        body = r.read().decode("utf-8", "replace")
        c.close()
        if r.status == 200 and "install.php?step=2" in body:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PY
}

. scripts/wordpress-pair.sh
make_root() {
  local r=$1
  mkdir -p "$r/usr/share/eole/creole/dicos" "$r/usr/share/eole/creole/distrib"
  chmod 0755 "$r"
  cp dicos/*.xml "$r/usr/share/eole/creole/dicos/"
  cp templates/* "$r/usr/share/eole/creole/distrib/"
  C() { "$BIN" --root "$r" "$@" >/dev/null; }
  C set conteneur_proxy_mode private
  C set conteneur_proxy_listen 127.0.0.1
  C set conteneur_http_port "$HTTP"
  C set conteneur_health_timeout 180
  C set nombre_conteneur 2
  wordpress_pair 1 2 "$DB" "$VOL" "$WPPORT" db_password
}

uptime >&2
say "conteneur, $RUNS cold starts"
make_root "$WORK/template"
for run in $(seq 1 "$RUNS"); do
  remove_all
  [ -n "$current_root" ] && "$BIN" --root "$current_root" proxy stop >/dev/null
  root=$WORK/root-$run
  cp -a "$WORK/template" "$root"
  current_root=$root
  t0=$(now)
  "$BIN" --root "$root" instance --quiet >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "instance failed"; }
  t1=$(now)
  wait_installer || die "conteneur: the installer did not answer"
  t2=$(now)
  record conteneur "$run" instance "$(secs "$t0" "$t1")"
  record conteneur "$run" installer "$(secs "$t0" "$t2")"
  echo "  run $run: instance $(secs "$t0" "$t1") s, installer after $(secs "$t0" "$t2") s" >&2
done

# The compose file of the same configuration; the last root's nginx stays
# up and routes /wordpress/ to the same host port, and its secret file is
# the one the compose file names.
compose_file=$WORK/compose.json
"$BIN" --root "$current_root" export compose --output "$compose_file"
say "docker-compose $(docker-compose version --short), $RUNS cold starts"
dc() { docker-compose -p "$P" -f "$compose_file" "$@"; }
for run in $(seq 1 "$RUNS"); do
  dc down -t 1 >/dev/null 2>&1 || true
  remove_all
  t0=$(now)
  dc up -d >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; die "compose up failed"; }
  t1=$(now)
  wait_installer || die "compose: the installer did not answer"
  t2=$(now)
  record compose "$run" up "$(secs "$t0" "$t1")"
  record compose "$run" installer "$(secs "$t0" "$t2")"
  echo "  run $run: up -d $(secs "$t0" "$t1") s, installer after $(secs "$t0" "$t2") s" >&2
done
uptime >&2

python3 - "$CSV" >"$OUT/summary.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def runs(tool, case):
    return [float(r["seconds"]) for r in rows if r["tool"] == tool and r["case"] == case]
def cell(v):
    return f"{statistics.median(v):.2f} s ({min(v):.2f}–{max(v):.2f})" if v else "–"
ci, cu = runs("conteneur", "installer"), runs("compose", "installer")
print("| tool | command returns | installer answers through nginx |")
print("|---|---:|---:|")
print(f"| conteneur `instance` | {cell(runs('conteneur', 'instance'))} | {cell(ci)} |")
print(f"| docker-compose 1.29 `up -d` | {cell(runs('compose', 'up'))} | {cell(cu)} |")
if ci and cu:
    print()
    print(f"compose / conteneur, until the installer answers: {statistics.median(cu) / statistics.median(ci):.2f}x (medians of {len(ci)} runs each)")
PY
cat "$OUT/summary.md"
