#!/usr/bin/env bash
# Builds the small demo and test images locally (there is no Docker Hub
# here) and pushes them to the loopback registry: a busybox root file system
# streamed into `docker import`. Usage: images.sh [REGISTRY]  (default
# localhost:5000). Safe to run again: an image already in the registry is
# not rebuilt.
set -euo pipefail
REG=${1:-localhost:5000}
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || { echo "images.sh: $BUSYBOX is missing (apt-get install busybox-static)" >&2; exit 1; }

# name tag command page-text [folder of extra files]
build() {
  local name=$1 tag=$2 cmd=$3 text=$4 extra=${5:-}
  local ref="$REG/$name:$tag"
  if curl -fsS "http://${REG/localhost/127.0.0.1}/v2/$name/manifests/$tag" \
       -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
    return 0
  fi
  local dir; dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/etc" "$dir/www" "$dir/tmp" "$dir/data"
  cp "$BUSYBOX" "$dir/bin/busybox"
  for l in sh httpd ls cat echo sleep mkdir nc wget true false printf tr cut sed sha1sum base64 wc kill; do
    ln -s busybox "$dir/bin/$l"
  done
  [ -z "$extra" ] || cp -a "$extra/." "$dir/"
  echo "$name" > "$dir/etc/hostname"
  printf '127.0.0.1 localhost\n' > "$dir/etc/hosts"
  printf 'root:x:0:0:root:/:/bin/sh\n' > "$dir/etc/passwd"
  printf '%s\n' "$text" > "$dir/www/index.html"
  mkdir -p "$dir/www/health" && echo ok > "$dir/www/health/index.html"
  tar -C "$dir" -c . | docker import \
      --change "CMD $cmd" --change 'EXPOSE 80' --change 'WORKDIR /' - "$ref" >/dev/null
  rm -rf "$dir"
  docker push "$ref" >/dev/null
  echo "images.sh: built and pushed $ref"
}

httpd='["/bin/httpd","-f","-p","80","-h","/www"]'
build demo/web 1.0 "$httpd" "web 1.0"
build demo/web 2.0 "$httpd" "web 2.0"
build demo/notes 1.0 "$httpd" "notes 1.0"
build demo/wiki 1.0 "$httpd" "wiki 1.0"
# Starts, then never answers on its port: for failed health checks.
build demo/broken 1.0 '["/bin/sleep","3600"]' "broken"
# Exits 1 at once: under a restart policy the engine restarts it again and
# again (a crash loop), for the replace protocol's early failure.
build demo/crash 1.0 '["/bin/false"]' "crash"

# A websocket server in busybox sh, for the drain of open websockets: each
# connection (nc -ll forks one handler each) gets the page text ("ws 1.0")
# as a text frame, then stays open; on SIGTERM (docker stop) every open one
# gets a close frame (1000) before the container goes. It listens on
# $WS_PORT (default 80); with $HTTP_PORT set, httpd serves the page there
# too (demo/app: HTTP on one port, websockets on another).
ws=$(mktemp -d)
mkdir -p "$ws/bin"
cat >"$ws/bin/ws-server" <<'SH'
#!/bin/sh
trap 'trap "" TERM; kill -TERM 0; sleep 0.5; exit 0' TERM
[ -z "$HTTP_PORT" ] || httpd -f -p "$HTTP_PORT" -h /www &
nc -ll -p "${WS_PORT:-80}" -e /bin/ws-conn &
wait
SH
cat >"$ws/bin/ws-conn" <<'SH'
#!/bin/sh
key=
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
  case "$line" in
    [Ss]ec-[Ww]eb[Ss]ocket-[Kk]ey:*) key=$(echo "${line#*:}" | tr -d ' ') ;;
  esac
done
[ -n "$key" ] || exit 0
hex=$(printf '%s' "${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11" | sha1sum | cut -d' ' -f1)
accept=$(printf "$(echo "$hex" | sed 's/../\\x&/g')" | base64)
printf 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' "$accept"
msg=$(cat /www/index.html)
printf "\\x81\\x$(printf %02x "$(printf '%s' "$msg" | wc -c)")%s" "$msg"
trap 'printf "\\x88\\x02\\x03\\xe8"; exit 0' TERM
while :; do sleep 1 & wait $!; done
SH
chmod 0755 "$ws/bin/ws-server" "$ws/bin/ws-conn"
build demo/ws 1.0 '["/bin/ws-server"]' "ws 1.0" "$ws"
build demo/ws 2.0 '["/bin/ws-server"]' "ws 2.0" "$ws"
build demo/app 1.0 '["/bin/ws-server"]' "app 1.0" "$ws"
build demo/app 2.0 '["/bin/ws-server"]' "app 2.0" "$ws"
rm -rf "$ws"
