#!/bin/bash
# Prepares what an emulated-machine provider boots, once, under a cache directory:
#   CACHE/kernel, CACHE/busybox   Debian's linux-image-cloud-<debarch> and busybox-static, fetched
#                                 with `apt-get download` through a private APT configuration whose
#                                 architecture is the guest's (the host's dpkg state stays untouched);
#                                 CACHE/kernel-release: the kernel's release
#   CACHE/modules/*.ko            the virtio modules behind the protocol channel (a virtio-serial port)
#                                 that the kernel builds as modules, in load order (CACHE/modules/order)
#   CACHE/kvm-modules/*.ko        x86: the kernel's own KVM modules (irqbypass, kvm, kvm-amd, kvm-intel)
#   CACHE/initrd-HASH.cpio.gz     busybox + /init + the static adapter built from SRC (HASH: of SRC)
# Usage: prepare.sh ARCH CACHE SRC     (ARCH: arm64 | x86_64; SRC: this directory).
# Prints the initramfs path last. Idempotent; the downloads happen only when CACHE has no kernel yet.
set -euo pipefail
ARCH=$1
CACHE=$2
SRC=$3
case $ARCH in
  arm64)  DEBARCH=arm64; CC=aarch64-linux-gnu-gcc
          VIRTIO="virtio_ring virtio virtio_mmio virtio_console"; KVM_MODULES="" ;;
  x86_64) DEBARCH=amd64; CC=gcc
          VIRTIO="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console"
          KVM_MODULES="irqbypass kvm kvm-amd kvm-intel" ;;
  *) echo "prepare.sh: unknown architecture $ARCH (arm64, x86_64)" >&2; exit 2 ;;
esac
umask 077
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"    # one preparation at a time (concurrent runs wait here)
flock 9

# ---- 1. Debian kernel and busybox (once) ------------------------------------------------------
if [ ! -s "$CACHE/kernel" ] || [ ! -s "$CACHE/busybox" ] || [ ! -s "$CACHE/kernel-release" ] \
   || [ ! -f "$CACHE/modules/order" ]; then
  A=$CACHE/apt
  rm -rf "$A" "$CACHE/debs" "$CACHE/x" "$CACHE/modules" "$CACHE/kvm-modules" "$CACHE/kernel" "$CACHE/Image" "$CACHE/kernel-release"
  mkdir -p "$CACHE/debs" "$CACHE/x"
  bash "$SRC/private-apt.sh" "$DEBARCH" "$A"     # the host's own Debian sources, read for the guest's architecture
  export APT_CONFIG=$A/apt.conf
  echo "$ARCH: apt-get update (private $DEBARCH configuration)" >&2
  apt-get -q update >&2
  # the meta package depends on the current ABI's image package
  KPKG=$(apt-cache depends "linux-image-cloud-$DEBARCH" | awk '/Depends:/ {print $2; exit}')
  [ -n "$KPKG" ] || { echo "$ARCH: linux-image-cloud-$DEBARCH not found in the $DEBARCH archive" >&2; exit 1; }
  echo "$ARCH: apt-get download $KPKG busybox-static" >&2
  (cd "$CACHE/debs" && apt-get -q download "$KPKG" busybox-static >&2)
  unset APT_CONFIG
  dpkg -x "$CACHE"/debs/"${KPKG}"_*_"$DEBARCH".deb "$CACHE/x/kernel"
  dpkg -x "$CACHE"/debs/busybox-static_*_"$DEBARCH".deb "$CACHE/x/busybox"
  REL=$(ls "$CACHE/x/kernel/boot/" | sed -n 's/^vmlinuz-//p' | head -1)
  K=$CACHE/x/kernel/boot/vmlinuz-$REL
  # Debian's arm64 vmlinuz is a plain (EFI stub) Image; unpack it should a future one be gzipped
  if [ "$ARCH" = arm64 ] && [ "$(head -c2 "$K" | od -An -tx1 | tr -d ' ')" = "1f8b" ]; then
    zcat "$K" > "$CACHE/kernel.tmp"
  else
    cp "$K" "$CACHE/kernel.tmp"
  fi
  cp "$CACHE/x/busybox/bin/busybox" "$CACHE/busybox"
  CFG=$CACHE/x/kernel/boot/config-$REL
  mkdir -p "$CACHE/modules" "$CACHE/kvm-modules"
  : > "$CACHE/modules/order"
  for m in $VIRTIO; do
    f=$(find "$CACHE/x/kernel/lib/modules/$REL" -name "$m.ko" | head -1)
    if [ -n "$f" ]; then
      cp "$f" "$CACHE/modules/"
      echo "$m" >> "$CACHE/modules/order"
    fi
  done
  grep -q "^virtio_console$" "$CACHE/modules/order" || grep -q '^CONFIG_VIRTIO_CONSOLE=y' "$CFG" \
    || { echo "$ARCH: $KPKG has no virtio_console (neither module nor built in)" >&2; exit 1; }
  for m in $KVM_MODULES; do
    f=$(find "$CACHE/x/kernel/lib/modules/$REL" -name "$m.ko" | head -1)
    [ -n "$f" ] || { echo "$ARCH: module $m.ko missing from $KPKG" >&2; exit 1; }
    cp "$f" "$CACHE/kvm-modules/"
  done
  mv "$CACHE/kernel.tmp" "$CACHE/kernel"
  echo "$REL" > "$CACHE/kernel-release"
  rm -rf "$CACHE/x" "$A" "$CACHE/debs"
fi

# ---- 2. the adapter and the initramfs (again whenever the sources change) --------------------
# the adapter: build-adapter.sh (common sources plus this architecture's half)
HASH=$( (cat $(bash "$SRC/build-adapter.sh" --sources "$ARCH" "$SRC") "$SRC"/*.h "$SRC"/init "$SRC"/prepare.sh \
          "$SRC"/build-adapter.sh; echo "$ARCH") | sha256sum | cut -c1-16)
INITRD=$CACHE/initrd-$HASH.cpio.gz
if [ ! -s "$INITRD" ]; then
  B=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf "$B"' EXIT
  CC=$CC bash "$SRC/build-adapter.sh" "$ARCH" "$SRC" "$B/tck-kvm" -static
  mkdir -p "$B/root/bin" "$B/root/dev" "$B/root/proc" "$B/root/sys" "$B/root/tmp" "$B/root/modules"
  cp "$CACHE/busybox" "$B/root/bin/busybox"
  cp "$CACHE/modules/order" "$B/root/modules/order"
  while read -r m; do cp "$CACHE/modules/$m.ko" "$B/root/modules/"; done < "$CACHE/modules/order"
  install -m 755 "$SRC/init" "$B/root/init"
  install -m 755 "$B/tck-kvm" "$B/root/bin/tck-kvm"
  (cd "$B/root" && find . -print0 | cpio --quiet --null -o -H newc --owner=0:0) | gzip -6 > "$B/initrd"
  rm -f "$CACHE"/initrd-*.cpio.gz
  mv "$B/initrd" "$INITRD"
fi
echo "$INITRD"
