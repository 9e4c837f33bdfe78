#!/usr/bin/env bash
# Records what an older conteneur leaves on the engine, as test fixtures for
# "upgrades that restart nothing" (tests/data/upgrade/README.md).
#
#   scripts/record-upgrade-fixtures.sh COMMIT BIN SRC OUT [ROOT]
#
# COMMIT  the commit the binary was built from (60d4e92, e7045df): it
#         chooses the scenario (60d4e92 knows no networks nor secrets)
# BIN     that commit's conteneur binary
# SRC     a checkout of that commit (its dicos/ and templates/ are installed
#         under the root, as its Debian package would)
# OUT     where the fixtures go (tests/data/upgrade/COMMIT)
# ROOT    the server root (default /tmp/upgrade-COMMIT); its containers are
#         left running, for the by-hand check with main's binary
#
# The containers are named up1.. (ue1.. for e7045df and later), so the
# root must be the only one on the engine using those names. Needs the registry's demo images
# (scripts/images.sh, scripts/images-apps.sh).
set -euo pipefail
COMMIT=$1 BIN=$2 SRC=$3 OUT=$4
ROOT=${5:-/tmp/upgrade-$COMMIT}
# Container names: one prefix per commit, so both roots can run at once.
case $COMMIT in 60d4e92) P=up ;; *) P=ue ;; esac
C() { "$BIN" --root "$ROOT" "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$ROOT/usr/share/eole/creole/dicos" "$ROOT/usr/share/eole/creole/distrib" "$OUT"
chmod 0755 "$ROOT"
cp "$SRC"/dicos/*.xml "$ROOT/usr/share/eole/creole/dicos/"
cp "$SRC"/templates/* "$ROOT/usr/share/eole/creole/distrib/"

C set conteneur_proxy_mode private
C set conteneur_proxy_listen 127.0.0.1
C set conteneur_http_port "$(free_port)"
case $COMMIT in
  60d4e92)
    C set nombre_conteneur 3
    ;;
  *)
    C set nombre_conteneur 3
    C set conteneur_secret_name db_password
    ;;
esac
# 1: a plain docker container with a port.
C set conteneur1_name "${P}1"
C set conteneur1_url localhost:5000/demo/web
C set conteneur1_tag 1.0
C set conteneur1_port_in 80
C set conteneur1_port_out "$(free_port)"
# 2: environment with a password, a named volume.
C set conteneur2_name "${P}2"
C set conteneur2_url localhost:5000/demo/notes
C set conteneur2_tag 1.0
C set conteneur2_port_in 80
C set conteneur2_port_out "$(free_port)"
C set conteneur2_env A=1 DB_PASSWORD=upgrade-fixture-password
C set conteneur2_mountpoint_in /www/data
C set conteneur2_mountpoint_out "upgrade-$COMMIT-notes"
case $COMMIT in
  60d4e92)
    # 3: memory limit, restart policy, health path.
    C set conteneur3_name "${P}3"
    C set conteneur3_url localhost:5000/demo/wiki
    C set conteneur3_tag 1.0
    C set conteneur3_port_in 80
    C set conteneur3_port_out "$(free_port)"
    C set conteneur3_memory 64m
    C set conteneur3_restart always
    C set conteneur3_health_path /
    ;;
  *)
    C set conteneur2_secrets db_password
    # 3: a database of an application: private network, volume, secret,
    # health command, no port.
    C set conteneur3_name "${P}3"
    C set conteneur3_url localhost:5000/apps/mariadb
    C set conteneur3_tag 10.11
    C set conteneur3_networks upnet
    C set conteneur3_mountpoint_in /var/lib/mysql
    C set conteneur3_mountpoint_out "upgrade-$COMMIT-db"
    C set conteneur3_secrets db_password
    C set conteneur3_env MARIADB_DATABASE=wordpress MARIADB_USER=wordpress \
      MARIADB_PASSWORD_FILE=/run/secrets/db_password
    C set conteneur3_health_command 'mysqladmin ping --silent'
    ;;
esac
C instance --quiet
C plan

# What the fixtures keep: the configuration, the state files a plan reads
# (the label key: a test key, made by this run), and the engine's view of
# each container, network and volume (labels; never the environment).
cp "$ROOT/etc/eole/config.eol" "$OUT/config.eol"
[ -e "$ROOT/var/lib/conteneur/label.key" ] && cp "$ROOT/var/lib/conteneur/label.key" "$OUT/label.key"
mkdir -p "$OUT/dicos" "$OUT/templates"
cp "$SRC"/dicos/*.xml "$OUT/dicos/"
cp "$SRC"/templates/conteneur-launch.json "$OUT/templates/"
ids=$(docker ps -aq --filter "label=fr.eole.conteneur.server=$ROOT")
docker inspect $ids | jq '[.[] | {Id, Name: (.Name | ltrimstr("/")), Image, State: .State.Status, ConfigImage: .Config.Image, Labels: .Config.Labels}] | sort_by(.Name)' >"$OUT/containers.json"
# Volumes by the containers' mounts: an older conteneur may not label them.
vols=$(docker inspect $ids | jq -r '.[].Mounts[] | select(.Type == "volume") | .Name' | sort -u)
if [ -n "$vols" ]; then docker volume inspect $vols | jq '[.[] | {Name, Labels}]'; else echo '[]'; fi >"$OUT/volumes.json"
nets=$(docker network ls -q --filter "label=fr.eole.conteneur.server=$ROOT")
if [ -n "$nets" ]; then docker network inspect $nets | jq '[.[] | {Id, Name, Labels}]'; else echo '[]'; fi >"$OUT/networks.json"
docker image inspect $(jq -r '.[].ConfigImage' "$OUT/containers.json" | sort -u) |
  jq '[.[] | {Id, RepoTags}]' >"$OUT/images.json"
echo "$ROOT" >"$OUT/root"
echo "recorded under $OUT"
