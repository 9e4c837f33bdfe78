#!/usr/bin/env bash
# `conteneur backup` of a 1 GiB folder of files beside `tar -cf` of the same
# folder, in the same run (BENCHMARKS.md, "Backups"); then its archive
# checked (`backup --list`).
#
#   1. a server under a temporary --root with one container (busybox httpd
#      from localhost:5000/demo/web:1.0) whose host folder holds BENCH_MIB
#      MiB: half random bytes (uploads, images: incompressible), half text
#      (base64), in 1 MiB files, and 4000 files of 4 KiB;
#   2. hyperfine, BENCH_RUNS runs each, warm cache (one warm-up run each):
#      `conteneur backup NAME` (the container paused for the copy; zstd as
#      shipped), `tar -cf` (no compression) and `tar --zstd -cf` (zstd's
#      command at its default level, one thread) of the same folder, each
#      writing into the same disk;
#   3. `conteneur backup --list` (every archive read whole and checked);
#   4. everything removed.
#
# Needs the machine's Docker engine, the loopback registry with the demo
# images (scripts/services.sh, scripts/images.sh), hyperfine, zstd, and root.
# Results: target/bench-results/backup.md and .json.
#
# Environment: BENCH_MIB (default 1024), BENCH_RUNS (default 5), BENCH_JOBS
# (cargo -j, default 1), BIN (a conteneur binary; default: built here).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n== %s\n' "$*"; }

mib=${BENCH_MIB:-1024}
runs=${BENCH_RUNS:-5}
jobs=${BENCH_JOBS:-1}

for t in hyperfine zstd; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench-backup.sh: $t is missing (apt-get install $t)" >&2; exit 1; }
done
docker version >/dev/null 2>&1 || { echo "bench-backup.sh: the Docker engine is not reachable (scripts/services.sh)" >&2; exit 1; }
curl -fsS http://127.0.0.1:5000/v2/demo/web/tags/list >/dev/null || { echo "bench-backup.sh: the loopback registry or its demo images are missing (scripts/services.sh, scripts/images.sh)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  say "cargo build --release"
  cargo build --release --locked -j "$jobs" --bin conteneur
  BIN=$repo/target/release/conteneur
fi

out=$repo/target/bench-results
mkdir -p "$out"
root=$(mktemp -d /var/tmp/conteneur-bench-backup.XXXXXX)
chmod 755 "$root"
name=bb$$
c() { "$BIN" --root "$root" "$@"; }

cleanup() {
  c proxy stop >/dev/null 2>&1 || true
  docker rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$root"
}
trap cleanup EXIT

say "a server with one container and ${mib} MiB in its folder"
mkdir -p "$root/usr/share/eole/creole/dicos" "$root/usr/share/eole/creole/distrib"
cp dicos/*.xml "$root/usr/share/eole/creole/dicos/"
cp templates/* "$root/usr/share/eole/creole/distrib/"
port=$((20000 + $$ % 10000))
c set conteneur_proxy_mode private >/dev/null
c set conteneur_proxy_listen 127.0.0.1 >/dev/null
c set conteneur_http_port $((port + 1)) >/dev/null
c set conteneur_backup_kept 1 >/dev/null
c set nombre_conteneur 1 >/dev/null
c set conteneur1_name "$name" >/dev/null
c set conteneur1_url localhost:5000/demo/web >/dev/null
c set conteneur1_tag 1.0 >/dev/null
c set conteneur1_port_in 80 >/dev/null
c set conteneur1_port_out "$port" >/dev/null
c set conteneur1_mountpoint_in /data >/dev/null
c set conteneur1_mountpoint_out /srv/bench >/dev/null
data=$root/srv/bench
mkdir -p "$data/random" "$data/text" "$data/small"
half=$((mib / 2))
for i in $(seq 1 "$half"); do
  head -c 1048576 /dev/urandom >"$data/random/f$i"
  head -c 786432 /dev/urandom | base64 -w 76 >"$data/text/f$i.txt"
done
for i in $(seq 1 4000); do head -c 4096 /dev/urandom | base64 >"$data/small/s$i"; done
du -sh "$data"
c instance --quiet >/dev/null

tarball=$root/peer.tar
say "hyperfine: conteneur backup vs tar -cf vs tar --zstd -cf ($runs runs each)"
hyperfine --warmup 1 --runs "$runs" \
  --export-markdown "$out/backup.md" --export-json "$out/backup.json" \
  -n "conteneur backup" "$BIN --root $root backup $name" \
  -n "tar -cf" "tar -cf $tarball -C $data ." \
  -n "tar --zstd -cf" "tar --zstd -cf $tarball.zst -C $data ."
ls -l "$root/var/backups/conteneur" "$tarball" "$tarball.zst"

say "the archive checked"
/usr/bin/time -f '%e s' "$BIN" --root "$root" backup --list
cat "$out/backup.md"
