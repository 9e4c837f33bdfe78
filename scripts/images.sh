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

# name tag command page-text
build() {
  local name=$1 tag=$2 cmd=$3 text=$4
  local ref="$REG/$name:$tag"
  if curl -fsS "http://${REG/localhost/127.0.0.1}/v2/$name/manifests/$tag" \
       -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1; then
    return 0
  fi
  local dir; dir=$(mktemp -d)
  mkdir -p "$dir/bin" "$dir/etc" "$dir/www" "$dir/tmp" "$dir/data"
  cp "$BUSYBOX" "$dir/bin/busybox"
  for l in sh httpd ls cat echo sleep mkdir nc wget true false printf; do ln -s busybox "$dir/bin/$l"; done
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
