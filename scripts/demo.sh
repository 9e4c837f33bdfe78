#!/usr/bin/env bash
# The demo (README: "Run the demo"): on a fresh Debian 12 machine, installs
# and starts what is missing (Docker engine, loopback registry, nginx, LXC),
# builds conteneur, builds three small demo images and pushes them to the
# registry, builds the WordPress and MariaDB images from Debian 12 packages
# (scripts/images-apps.sh, cached), writes a demo configuration of four
# containers (three on Docker, one on LXC) and one application of two
# (WordPress at /wordpress/ with its MariaDB on a private network, a
# generated password as a secret) under a demo root (never the machine's
# /etc), runs `instance` (or `reconfigure` when already instantiated) and
# prints the URLs, which answer.
#
# Running it again is harmless and fast: nothing that is already right is
# redone. DEMO_ROOT (default ./demo-root) and DEMO_PORT (default 8080) can be
# changed; `./scripts/demo.sh stop` stops the demo's nginx and containers.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${DEMO_ROOT:-$REPO/demo-root}
PORT=${DEMO_PORT:-8080}
BIN=$REPO/target/release/conteneur
C() { "$BIN" --root "$ROOT" "$@"; }

if [ "${1:-}" = stop ]; then
  [ -x "$BIN" ] && [ -d "$ROOT" ] || exit 0
  # Containers first (a reconfigure also starts the private nginx), then nginx.
  C set nombre_conteneur 0 >/dev/null && C reconfigure --quiet || true
  C proxy stop || true
  exit 0
fi

echo "== services (Docker engine, registry on 127.0.0.1:5000, nginx, LXC)"
./scripts/services.sh
echo "== building conteneur"
cargo build --release --quiet
echo "== demo images"
./scripts/images.sh
echo "== application images (WordPress, MariaDB; from Debian packages, cached)"
./scripts/images-apps.sh

echo "== demo server under $ROOT"
mkdir -p "$ROOT/usr/share/eole/creole/dicos" "$ROOT/usr/share/eole/creole/distrib"
# nginx's workers run unprivileged: they must be able to reach the root.
chmod 0755 "$ROOT"
cp dicos/*.xml "$ROOT/usr/share/eole/creole/dicos/"
cp templates/* "$ROOT/usr/share/eole/creole/distrib/"
for phase in preservice pretemplate posttemplate postservice; do
  mkdir -p "$ROOT/usr/share/eole/$phase"
  if [ -d "instance.d/$phase" ]; then cp -p "instance.d/$phase"/* "$ROOT/usr/share/eole/$phase/" 2>/dev/null || true; fi
done

# The demo configuration, as an admin would type it (CreoleSet).
C set conteneur_proxy_mode private
C set conteneur_proxy_listen 127.0.0.1
C set conteneur_http_port "$PORT"
C set conteneur_health_timeout 180
C set nombre_conteneur 6
i=0
for app in web notes wiki; do
  i=$((i + 1))
  C set "conteneur${i}_name" "$app"
  C set "conteneur${i}_url" "localhost:5000/demo/$app"
  C set "conteneur${i}_tag" 1.0
  C set "conteneur${i}_port_in" 80
  C set "conteneur${i}_port_out" "$((18080 + i))"
done
C set conteneur2_mountpoint_in /www/data
C set conteneur2_mountpoint_out /srv/notes
# The fourth runs on LXC, from the same registry (lxc-create -t oci).
C set conteneur4_name blog
C set conteneur4_type lxc
C set conteneur4_url localhost:5000/demo/web
C set conteneur4_tag 2.0
C set conteneur4_port_in 80
C set conteneur4_port_out 18084
# An application of two: WordPress at /wordpress/ and its MariaDB on the
# private network wp (scripts/wordpress-pair.sh says what each setting does).
. scripts/wordpress-pair.sh
wordpress_pair 5 6 wpdb demo-wpdb 18085 wp_db_password
C lint >/dev/null

if [ -e "$ROOT/etc/eole/.instance" ]; then
  echo "== reconfigure"
  C reconfigure --quiet
else
  echo "== instance"
  C instance --quiet
fi
C status

echo
echo "The demo containers, behind nginx:"
for app in web notes wiki blog; do
  url="http://127.0.0.1:$PORT/$app/"
  printf '  %-32s -> %s\n' "$url" "$(curl -fsS --max-time 5 "$url" || echo 'NO ANSWER')"
done
url="http://127.0.0.1:$PORT/wordpress/"
code=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 10 "$url" || echo 'NO ANSWER')
printf '  %-32s -> %s\n' "$url" "WordPress: $code"
echo
echo "WordPress (with its MariaDB on the private network wp): $url"
echo
echo "Try: $BIN --root $ROOT set conteneur1_tag 2.0 && $BIN --root $ROOT reconfigure"
