#!/bin/bash
# Prepares the emulated machine in which the qemu provider runs QEMU with KVM where this host has no
# KVM that runs a whole guest: Debian's cloud kernel (../kvm/prepare.sh), and an initramfs holding
# what inner-root.sh puts in (busybox, the kernel's modules, the inner QEMU), the test guest
# (build.sh), the competitor helper (../qemu/competitor.c, static), the defect interposer
# (../qemu/defects.c, for the self-tests), the sharing interposer (../qemu/share.c: arm64's PV-time
# region and the TCK's window of guest RAM, live) and machine-init, the agent the
# provider drives (docs/qemu-provider.md, "Inside an emulated machine").
# Usage: machine.sh ARCH CACHE      (ARCH: x86_64 | arm64; QEMU=PATH: another x86-64 inner QEMU)
# Prints "kernel PATH" and "initrd PATH". The initramfs is cached in CACHE by a hash of everything
# that goes in (sources, the inner QEMU binary); a cached one is reused at once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=$1
CACHE=$2
case $ARCH in
  x86_64) CC=gcc; INNER=${QEMU:-/usr/bin/qemu-system-x86_64} ;;
  arm64)  CC=aarch64-linux-gnu-gcc; INNER=$CACHE/qemu-root/usr/bin/qemu-system-aarch64 ;;
  *) echo "machine.sh: unknown architecture $ARCH (x86_64, arm64)" >&2; exit 2 ;;
esac
umask 077
mkdir -p "$CACHE"
bash "$HERE/../kvm/prepare.sh" "$ARCH" "$CACHE" "$HERE/../kvm" > /dev/null
exec 8>"$CACHE/.machine-lock"    # one build at a time
flock 8
inputs() {
  cat $(bash "$HERE/build.sh" --sources "$ARCH") "$HERE/machine.sh" "$HERE/machine-init" "$HERE/inner-root.sh" \
      "$HERE/../qemu/competitor.c" "$HERE/../qemu/defects.c" "$HERE/../qemu/share.c" "$CACHE/kernel-release"
  [ -e "$INNER" ] && sha256sum < "$INNER"
  echo "$ARCH"
}
HASH=$(inputs | sha256sum | cut -c1-16)
INITRD=$CACHE/machine-$HASH.cpio.gz
if [ ! -s "$INITRD" ]; then
  W=$(mktemp -d "$CACHE/machine-build.XXXXXX")
  trap 'rm -rf "$W"' EXIT
  bash "$HERE/inner-root.sh" "$ARCH" "$CACHE" "$W/root"
  bash "$HERE/build.sh" "$ARCH" "$W/root/guest"
  "$CC" -O2 -Wall -Wextra -Werror -static "$HERE/../qemu/competitor.c" -o "$W/root/bin/competitor"
  mkdir -p "$W/root/lib"
  for lib in defects share; do
    "$CC" -shared -fPIC -O2 -Wall -Wextra -Werror "$HERE/../qemu/$lib.c" -o "$W/root/lib/libtck-qemu-$lib.so" -ldl
  done
  install -m 0755 "$HERE/machine-init" "$W/root/init"
  (cd "$W/root" && find . -print0 | cpio --quiet --null -o -H newc --owner=0:0) | gzip -1 > "$W/initrd"
  rm -f "$CACHE"/machine-*.cpio.gz
  mv "$W/initrd" "$INITRD"
fi
echo "kernel $CACHE/kernel"
echo "initrd $INITRD"
