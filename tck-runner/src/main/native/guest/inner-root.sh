#!/bin/bash
# Fills ROOT with what an emulated machine needs to run QEMU with KVM inside it (shared by
# emulated.sh, the self-check's machine, and machine.sh, the qemu provider's):
#   the kernel's modules      CACHE/modules (virtio, in load order) and CACHE/kvm-modules (x86), from
#                             ../kvm/prepare.sh, which fetched Debian's cloud kernel into CACHE
#   busybox                   CACHE/busybox (Debian's busybox-static)
#   x86_64: the inner QEMU    this host's qemu-system-x86_64 (or QEMU=PATH, a vendor's own build),
#                             the libraries ldd names, qboot, SeaBIOS and the option ROMs
#   arm64:  the inner QEMU    Debian's arm64 qemu-system-arm and its dependencies, fetched once
#                             (apt-get install --download-only through a private arm64 APT
#                             configuration) into CACHE/qemu-root; the libraries by soname, the loader
# The inner QEMU is ROOT/usr/bin/qemu, its -L directory ROOT/usr/share/qemu.
# Usage: inner-root.sh ARCH CACHE ROOT
set -euo pipefail
ARCH=$1
CACHE=$2
R=$3
mkdir -p "$R"/{bin,dev,proc,sys,tmp,usr/bin,usr/share/qemu,kvm-modules,modules}
case $ARCH in
  x86_64)
    Q=${QEMU:-/usr/bin/qemu-system-x86_64}
    cp "$Q" "$R/usr/bin/qemu"
    for lib in $(ldd "$Q" | awk '/=>/ {print $3} /^\t\/.*ld-linux/ {print $1}'); do
      mkdir -p "$R$(dirname "$lib")"
      cp -L "$lib" "$R$lib"
    done
    # the firmware: qboot (what the guest boots with: a fraction of SeaBIOS's time), SeaBIOS
    # (Debian keeps it in /usr/share/seabios) and the option ROMs, all in QEMU's -L dir
    for f in /usr/share/qemu/qboot.rom /usr/share/seabios/bios-256k.bin \
             /usr/share/qemu/{pvh.bin,kvmvapic.bin,linuxboot_dma.bin}; do
      cp -L "$f" "$R/usr/share/qemu/"
    done
    cp "$CACHE"/kvm-modules/*.ko "$R/kvm-modules/" ;;
  arm64)
    Q=$CACHE/qemu-root
    if [ ! -x "$Q/usr/bin/qemu-system-aarch64" ]; then
      # Debian's arm64 QEMU, every dependency downloaded (an empty dpkg status: nothing installed)
      A=$CACHE/apt-qemu
      rm -rf "$A" "$Q" "$Q.tmp" "$CACHE/qemu-debs"
      mkdir -p "$CACHE/qemu-debs/partial"
      bash "$(dirname "$0")/../kvm/private-apt.sh" arm64 "$A"
      echo "arm64: fetching Debian's arm64 qemu-system-arm and its dependencies (once)" >&2
      APT_CONFIG=$A/apt.conf apt-get -q update >&2
      APT_CONFIG=$A/apt.conf apt-get -q -y install --download-only --no-install-recommends \
        -o Dir::Cache::archives="$CACHE/qemu-debs" qemu-system-arm >&2
      mkdir -p "$Q.tmp"
      for d in "$CACHE"/qemu-debs/*.deb; do dpkg-deb -x "$d" "$Q.tmp"; done
      rm -rf "$A" "$CACHE/qemu-debs"
      mv "$Q.tmp" "$Q"
    fi
    cp "$Q/usr/bin/qemu-system-aarch64" "$R/usr/bin/qemu"
    # the shared libraries it needs, by soname, found in the unpacked packages
    mkdir -p "$R/lib/aarch64-linux-gnu"
    declare -A seen=()
    todo=("$Q/usr/bin/qemu-system-aarch64")
    while [ ${#todo[@]} -gt 0 ]; do
      elf=${todo[0]}
      todo=("${todo[@]:1}")
      for so in $(aarch64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -n "${seen[$so]:-}" ] && continue
        seen[$so]=1
        f=
        for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
          [ -e "$Q/$d/$so" ] && { f=$Q/$d/$so; break; }
        done
        [ -n "$f" ] || { echo "arm64: $so not found in Debian's packages" >&2; exit 1; }
        cp -L "$f" "$R/lib/aarch64-linux-gnu/$so"
        todo+=("$f")
      done
    done
    cp -L "$Q/lib/ld-linux-aarch64.so.1" "$R/lib/" ;;
  *) echo "inner-root.sh: unknown architecture $ARCH" >&2; exit 2 ;;
esac
cp "$CACHE/busybox" "$R/bin/busybox"
cp "$CACHE/modules/order" "$R/modules/order"
while read -r m; do [ -n "$m" ] && cp "$CACHE/modules/$m.ko" "$R/modules/"; done < "$CACHE/modules/order"
