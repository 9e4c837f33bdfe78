#!/usr/bin/env bash
# Builds the two small guest images of the `vm` type's tests and demo from
# Debian 12 packages (no Docker Hub here) and pushes them to the loopback
# registry as REG/vm/web:1.0 and REG/vm/web:2.0 (docs/vm.md, "Images"), and
# REG/vm/broken:1.0, which boots and never answers (its command line says
# `conteneur.silent`: no httpd), for failed health checks.
#
# Each is a containerDisk (KubeVirt's convention: a container image holding
# the disk under /disk/) with our additions for a direct kernel boot:
#   /disk/disk.img     raw ext2 disk: www/index.html ("vm 1.0"), www/health/
#   /disk/vmlinuz      Debian's kernel (linux-image-amd64), unpacked from its
#                      bzImage to the ELF vmlinux QEMU boots through PVH:
#                      under TCG that spares the ~4 s of decompression
#   /disk/initrd.img   a busybox initramfs: loads the few modules it needs,
#                      mounts the disk read-only on /www, configures QEMU's
#                      user network (10.0.2.15), runs acpid (the ACPI power
#                      button powers off) and `httpd -f -p 80 -h /www`
#   /disk/cmdline      the kernel command line
# The kernel package and the built kernel + initramfs are cached under
# CONTENEUR_TEST_CACHE (default /var/cache/conteneur-test), keyed by the
# kernel package's version and RECIPE; an image already in the registry is
# not rebuilt. Safe to run side by side with itself (work folders are
# private, cache files appear by rename).
#
# Usage: images-vm.sh [REGISTRY]   (default localhost:5000)
set -euo pipefail
cd "$(dirname "$0")/.."
REG=${1:-localhost:5000}
CACHE=${CONTENEUR_TEST_CACHE:-/var/cache/conteneur-test}
# Bump when the initramfs recipe below changes.
RECIPE=v3
BUSYBOX=/bin/busybox

die() { echo "images-vm.sh: $*" >&2; exit 1; }
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing (apt-get install busybox-static)"
for t in mke2fs depmod xz docker curl apt-get dpkg-deb; do
  command -v "$t" >/dev/null || die "$t is missing"
done

in_registry() {
  curl -fsS "http://${REG/localhost/127.0.0.1}/v2/$1/manifests/$2" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' >/dev/null 2>&1
}
# The images of this RECIPE are in the registry when its marker tag is: an
# older recipe's images (another network card driver) are built again.
if in_registry vm/web "recipe-$RECIPE" && in_registry vm/web 1.0 && in_registry vm/web 2.0 \
  && in_registry vm/broken 1.0; then
  exit 0
fi

mkdir -p "$CACHE"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The kernel package linux-image-amd64 points to, from this machine's apt
# sources (the configured mirror), downloaded once.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || die "apt knows no linux-image-amd64 (apt-get update?)"
kver=$(apt-cache policy "$kpkg" | awk '$1 == "Candidate:" { print $2 }')
BOOT=$CACHE/vm-boot-$kpkg-$kver-$RECIPE
if [ ! -f "$BOOT/vmlinuz" ] || [ ! -f "$BOOT/initrd.img" ]; then
  deb=$(ls "$CACHE"/"${kpkg}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    echo >&2 "images-vm.sh: downloading $kpkg $kver"
    (cd "$WORK" && apt-get download -q "$kpkg" >"$WORK/download.log" 2>&1) ||
      { cat "$WORK/download.log" >&2; die "apt-get download $kpkg failed"; }
    f=$(ls "$WORK"/*.deb)
    mv "$f" "$CACHE/$(basename "$f")"
    deb=$CACHE/$(basename "$f")
  fi
  x=$WORK/kernel
  dpkg-deb -x "$deb" "$x"
  kr=$(ls "$x/lib/modules")
  depmod -b "$x" "$kr"
  out=$WORK/boot
  mkdir -p "$out"
  # The bzImage's payload is xz: unpack it to the ELF vmlinux.
  bz=$x/boot/vmlinuz-$kr
  off=$(grep -abo $'\xfd7zXZ' "$bz" | head -1 | cut -d: -f1)
  [ -n "$off" ] || die "no xz payload in $bz"
  tail -c +"$((off + 1))" "$bz" | xz -dc 2>/dev/null >"$out/vmlinuz" || true
  [ "$(head -c 4 "$out/vmlinuz" | od -An -c | tr -d ' ')" = '177ELF' ] || die "unpacking $bz gave no ELF kernel"

  # The initramfs.
  r=$WORK/initramfs
  mkdir -p "$r"/{bin,dev,proc,sys,www,etc/acpi/PWRF,lib/modules}
  cp "$BUSYBOX" "$r/bin/busybox"
  for l in sh mount umount insmod ip httpd acpid poweroff sync sleep cat echo mkdir ls; do
    ln -s busybox "$r/bin/$l"
  done
  # Modules, each after the ones it needs (modules.dep lists a module's
  # dependencies, the deepest last).
  : >"$r/etc/modules"
  load() {
    local m path deps d
    path=$(awk -v m="/$1.ko:" 'index($1, m) { sub(":", "", $1); print $1; exit }' "$x/lib/modules/$kr/modules.dep")
    [ -n "$path" ] || die "module $1 is not in $kpkg"
    deps=$(awk -v p="$path:" '$1 == p { for (i = NF; i > 1; i--) print $i }' "$x/lib/modules/$kr/modules.dep")
    for d in $deps; do
      m=$(basename "$d" .ko)
      grep -qx "$m" "$r/etc/modules" || { cp "$x/lib/modules/$kr/$d" "$r/lib/modules/"; echo "$m" >>"$r/etc/modules"; }
    done
    grep -qx "$1" "$r/etc/modules" || { cp "$x/lib/modules/$kr/$path" "$r/lib/modules/"; echo "$1" >>"$r/etc/modules"; }
  }
  for m in virtio_pci virtio_blk crc32c_generic ext4 virtio_net button evdev; do load "$m"; done
  cat >"$r/init" <<'SH'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko; done
echo "conteneur-vm: modules loaded"
# The disk appears once virtio has probed it.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mount -t ext4 -o ro /dev/vda /www || echo "conteneur-vm: no disk on /dev/vda"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
acpid -c /etc/acpi -l /dev/null
case " $(cat /proc/cmdline) " in
  *" conteneur.silent "*)
    echo "conteneur-vm: silent, no httpd"
    while :; do sleep 3600; done ;;
esac
echo "conteneur-vm: httpd on port 80"
exec httpd -f -p 80 -h /www
SH
  # busybox acpid's default table: the power button runs PWRF/00000080.
  printf '#!/bin/sh\necho "conteneur-vm: power button, powering off"\nsync\numount /www\npoweroff -f\n' \
    >"$r/etc/acpi/PWRF/00000080"
  chmod 0755 "$r/init" "$r/etc/acpi/PWRF/00000080"
  (cd "$r" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.img"
  echo "console=ttyS0 panic=-1 quiet" >"$out/cmdline"
  mkdir -p "$(dirname "$BOOT")"
  rm -rf "$BOOT.tmp.$$" && mv "$out" "$BOOT.tmp.$$"
  mv -T "$BOOT.tmp.$$" "$BOOT" 2>/dev/null || rm -rf "$BOOT.tmp.$$"
  echo >&2 "images-vm.sh: kernel and initramfs of $kpkg $kver cached in $BOOT"
fi

# name tag page-text [extra kernel arguments]
build() {
  local name=$1 tag=$2 text=$3 extra=${4:-} ref="$REG/$1:$2"
  in_registry vm/web "recipe-$RECIPE" && in_registry "$name" "$tag" && return 0
  local d=$WORK/image-${name//\//-}-$tag
  mkdir -p "$d/disk" "$d/www/health"
  printf '%s\n' "$text" >"$d/www/index.html"
  echo ok >"$d/www/health/index.html"
  mke2fs -q -t ext2 -L vm-web -d "$d/www" "$d/disk/disk.img" 4M >/dev/null
  cp "$BOOT/vmlinuz" "$BOOT/initrd.img" "$d/disk/"
  echo "$(cat "$BOOT/cmdline")${extra:+ $extra}" >"$d/disk/cmdline"
  tar -C "$d" -c disk | docker import --change 'LABEL fr.eole.conteneur.containerdisk=1' - "$ref" >/dev/null
  docker push "$ref" >/dev/null
  rm -rf "$d"
  echo "images-vm.sh: built and pushed $ref"
}
build vm/web 1.0 "vm 1.0" &
b1=$!
build vm/web 2.0 "vm 2.0" &
b2=$!
build vm/broken 1.0 "broken" conteneur.silent &
b3=$!
wait "$b1" || die "building $REG/vm/web:1.0 failed"
wait "$b2" || die "building $REG/vm/web:2.0 failed"
wait "$b3" || die "building $REG/vm/broken:1.0 failed"
# The marker of this recipe, pushed last: the three images above are its.
docker tag "$REG/vm/web:1.0" "$REG/vm/web:recipe-$RECIPE"
docker push "$REG/vm/web:recipe-$RECIPE" >/dev/null
docker rmi "$REG/vm/web:recipe-$RECIPE" >/dev/null
