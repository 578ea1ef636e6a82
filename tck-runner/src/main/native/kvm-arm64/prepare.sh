#!/bin/bash
# Prepares what the kvm-arm64 provider boots, once, under a cache directory:
#   CACHE/Image, CACHE/busybox from Debian's linux-image-cloud-arm64 and busybox-static (arm64),
#                              fetched with `apt-get download` through a private APT configuration
#                              whose architecture is arm64 (the host's dpkg architectures stay
#                              untouched); CACHE/kernel-release: the kernel's release
#   CACHE/modules/*.ko         the virtio modules behind the protocol channel (a virtio-serial port:
#                              Debian builds them as modules)
#   CACHE/initrd-HASH.cpio.gz  busybox + /init + the static adapter built from SRC (HASH: of SRC)
# Usage: prepare.sh CACHE SRC     (SRC: this directory).  Prints the initramfs path last.
# Idempotent; the downloads happen only when CACHE has no kernel yet.
set -euo pipefail
CACHE=$1
SRC=$2
umask 077
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"    # one preparation at a time (concurrent runs wait here)
flock 9

# ---- 1. Debian arm64 kernel and busybox (once) ------------------------------------------------
MODULES="virtio_ring virtio virtio_mmio virtio_console"   # in load order
if [ ! -s "$CACHE/Image" ] || [ ! -s "$CACHE/busybox" ] || [ ! -s "$CACHE/kernel-release" ] \
   || [ ! -s "$CACHE/modules/virtio_console.ko" ]; then
  A=$CACHE/apt
  rm -rf "$A" "$CACHE/debs" "$CACHE/x" "$CACHE/modules" "$CACHE/Image" "$CACHE/kernel-release"
  mkdir -p "$A"/etc/apt/sources.list.d "$A"/etc/apt/apt.conf.d "$A"/etc/apt/preferences.d \
           "$A"/var/lib/apt/lists/partial "$A"/var/cache/apt/archives/partial "$CACHE/debs" "$CACHE/x"
  : > "$A/status"
  # the host's own Debian sources, read for the arm64 archive
  cp /etc/apt/sources.list.d/*.sources "$A"/etc/apt/sources.list.d/ 2>/dev/null || true
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$A"/etc/apt/sources.list
  cat > "$A/apt.conf" <<CONF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Sandbox::User "root";
Dir "$A/";
Dir::State "var/lib/apt";
Dir::State::status "$A/status";
Dir::Cache "var/cache/apt";
Dir::Etc "etc/apt";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
CONF
  export APT_CONFIG=$A/apt.conf
  echo "kvm-arm64: apt-get update (private arm64 configuration)" >&2
  apt-get -q update >&2
  # the meta package depends on the current ABI's image package
  KPKG=$(apt-cache depends linux-image-cloud-arm64 | awk '/Depends:/ {print $2; exit}')
  [ -n "$KPKG" ] || { echo "kvm-arm64: linux-image-cloud-arm64 not found in the arm64 archive" >&2; exit 1; }
  echo "kvm-arm64: apt-get download $KPKG busybox-static" >&2
  (cd "$CACHE/debs" && apt-get -q download "$KPKG" busybox-static >&2)
  unset APT_CONFIG
  dpkg -x "$CACHE"/debs/"${KPKG}"_*_arm64.deb "$CACHE/x/kernel"
  dpkg -x "$CACHE"/debs/busybox-static_*_arm64.deb "$CACHE/x/busybox"
  REL=$(ls "$CACHE/x/kernel/boot/" | sed -n 's/^vmlinuz-//p' | head -1)
  K=$CACHE/x/kernel/boot/vmlinuz-$REL
  # Debian's arm64 vmlinuz is a plain (EFI stub) Image; unpack it should a future one be gzipped
  if [ "$(head -c2 "$K" | od -An -tx1 | tr -d ' ')" = "1f8b" ]; then zcat "$K" > "$CACHE/Image.tmp"; else cp "$K" "$CACHE/Image.tmp"; fi
  cp "$CACHE/x/busybox/bin/busybox" "$CACHE/busybox"
  mkdir -p "$CACHE/modules"
  for m in $MODULES; do
    f=$(find "$CACHE/x/kernel/lib/modules/$REL" -name "$m.ko" | head -1)
    [ -n "$f" ] || { echo "kvm-arm64: module $m.ko missing from $KPKG" >&2; exit 1; }
    cp "$f" "$CACHE/modules/"
  done
  mv "$CACHE/Image.tmp" "$CACHE/Image"
  echo "$REL" > "$CACHE/kernel-release"
  rm -rf "$CACHE/x" "$A" "$CACHE/debs"
fi

# ---- 2. the adapter and the initramfs (again whenever the sources change) --------------------
HASH=$(cat "$SRC"/*.c "$SRC"/*.h "$SRC"/*.S "$SRC"/init "$SRC"/prepare.sh | sha256sum | cut -c1-16)
INITRD=$CACHE/initrd-$HASH.cpio.gz
if [ ! -s "$INITRD" ]; then
  B=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf "$B"' EXIT
  aarch64-linux-gnu-gcc -O2 -static -pthread -std=gnu11 -Wall -Wextra -Werror \
      -o "$B/tck-kvm-arm64" "$SRC"/*.c "$SRC"/*.S
  mkdir -p "$B/root/bin" "$B/root/dev" "$B/root/proc" "$B/root/sys" "$B/root/tmp"
  cp "$CACHE/busybox" "$B/root/bin/busybox"
  mkdir -p "$B/root/modules"
  for m in $MODULES; do cp "$CACHE/modules/$m.ko" "$B/root/modules/"; done
  install -m 755 "$SRC/init" "$B/root/init"
  install -m 755 "$B/tck-kvm-arm64" "$B/root/bin/tck-kvm-arm64"
  (cd "$B/root" && find . -print0 | cpio --quiet --null -o -H newc --owner=0:0) | gzip -6 > "$B/initrd"
  rm -f "$CACHE"/initrd-*.cpio.gz
  mv "$B/initrd" "$INITRD"
fi
echo "$INITRD"
