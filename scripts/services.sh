#!/usr/bin/env bash
# Installs (Debian packages) and starts the real services conteneur's tests
# and demo use: the Docker engine and a registry on 127.0.0.1:5000. Safe to
# run again: what runs already is left alone. There is no systemd on the
# test machines, so the daemons are started in the background by hand.
set -euo pipefail

STATE=${CONTENEUR_SERVICES_STATE:-/var/lib/conteneur-test-services}
REGISTRY_ADDR=127.0.0.1:5000

need=()
# lxc, skopeo, umoci, jq: LXC containers from OCI images (lxc-create -t oci);
# git: docker+git builds. debootstrap, lintian, dpkg-dev: the application
# images and tests/package.sh (installed here so that apt-get runs once, before
# the steps that scripts/test.sh runs side by side). redis-server,
# prometheus-node-exporter: the targets of `conteneur watch` (tests/watch.rs);
# installed only, never started here: each test starts its own on a free
# 127.0.0.1 port.
for p in docker.io docker-compose nginx libnginx-mod-stream docker-registry busybox-static openssl curl tmux \
         lxc skopeo umoci jq git debootstrap lintian dpkg-dev redis-server prometheus-node-exporter; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "services.sh: run as root to install: ${need[*]}" >&2
    exit 1
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$STATE"

# QEMU for the `vm` type (tests/vm.rs, scripts/images-vm.sh): Debian 12's
# qemu-system-x86 (7.2). Some images of this machine's kind carry a
# qemu-utils 10.0 backport that `Breaks: qemu-system-common (<< 1:8.0)`;
# apt then refuses 7.2. We downgrade qemu-utils to the version of
# qemu-system-x86 apt would install (--allow-downgrades, that exact version
# named): qemu-img and the emulator then come from one QEMU release, apt's
# database stays true (unlike unpacking the .debs with dpkg -x), and the
# machine is what a bare Debian 12 gets. Nothing here runs when
# qemu-system-x86_64 and qemu-img are present.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1 || ! command -v qemu-img >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "services.sh: run as root to install qemu-system-x86" >&2
    exit 1
  fi
  cand=$(apt-cache policy qemu-system-x86 | awk '$1 == "Candidate:" { print $2 }')
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    cand=$(apt-cache policy qemu-system-x86 | awk '$1 == "Candidate:" { print $2 }')
  fi
  qemu=(qemu-system-x86 qemu-utils)
  have=$(dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null || true)
  if [ -n "$have" ] && [ -n "$cand" ] && dpkg --compare-versions "$have" gt "$cand"; then
    echo "services.sh: qemu-utils $have is newer than qemu-system-x86 $cand and breaks it: downgrading qemu-utils to $cand" >&2
    qemu=(qemu-system-x86 "qemu-utils=$cand")
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends --allow-downgrades "${qemu[@]}" >/dev/null
  command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo "services.sh: qemu-system-x86_64 is still missing after apt-get" >&2; exit 1; }
fi

# Docker engine (Debian's docker.io, API 1.41).
if ! docker version >/dev/null 2>&1; then
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker version >/dev/null 2>&1 || { echo "services.sh: dockerd did not start; see $STATE/dockerd.log" >&2; tail -20 "$STATE/dockerd.log" >&2; exit 1; }
fi

# A registry on loopback, without the packaged config (which wants htpasswd).
if ! curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $STATE/registry
http:
  addr: $REGISTRY_ADDR
YML
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  for _ in $(seq 1 40); do
    curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && break
    sleep 0.25
  done
  curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 || { echo "services.sh: the registry did not start; see $STATE/registry.log" >&2; exit 1; }
fi
echo "services.sh: docker $(docker version --format '{{.Server.Version}}' 2>/dev/null) and registry on $REGISTRY_ADDR are up"
