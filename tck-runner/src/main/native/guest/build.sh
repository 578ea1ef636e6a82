#!/bin/bash
# Builds the test guest for one architecture with the host's Debian toolchains, nothing downloaded:
#   x86_64  gcc (host)               -> OUT: an ELF with a PVH entry note (QEMU -kernel OUT)
#   arm64   gcc-aarch64-linux-gnu    -> OUT: a Linux arm64 Image (QEMU -kernel OUT)
# Usage: build.sh ARCH OUT
#        build.sh --sources ARCH     lists the files that go in (what a cache hashes)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# the common files, and one architecture's arch-ARCH* (the other's left out), as ../kvm does
sources() { ls "$HERE"/*.c "$HERE"/*.S 2>/dev/null | grep -v '/arch-' || true; ls "$HERE"/arch-"$1"*.[cS]; }
if [ "${1:-}" = --sources ]; then
  ls "$HERE"/build.sh "$HERE"/*.h "$HERE"/arch-"$2".ld
  sources "$2"
  exit 0
fi
[ $# -eq 2 ] || { echo "usage: build.sh x86_64|arm64 OUT" >&2; exit 2; }
ARCH=$1
OUT=$2
COMMON=(-std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-builtin -fno-stack-protector
        -fno-pic -fno-asynchronous-unwind-tables -nostdlib -static -no-pie -Wl,--build-id=none
        -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -I"$HERE")
case $ARCH in
  x86_64) CC=gcc; OBJCOPY=objcopy
          FLAGS=(-m64 -mno-red-zone -mgeneral-regs-only -Wl,-z,max-page-size=4096) ;;
  arm64)  CC=aarch64-linux-gnu-gcc; OBJCOPY=aarch64-linux-gnu-objcopy
          # -mstrict-align: C runs before the MMU is on, where every access is Device memory
          FLAGS=(-mgeneral-regs-only -mstrict-align -mno-outline-atomics -Wl,-z,max-page-size=4096) ;;
  *) echo "build.sh: unknown architecture $ARCH (x86_64, arm64)" >&2; exit 2 ;;
esac
command -v "$CC" >/dev/null || { echo "build.sh: $CC missing (Debian: apt-get install ${CC%-gcc}-gcc)" >&2; exit 1; }
umask 077
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# shellcheck disable=SC2046
"$CC" "${COMMON[@]}" "${FLAGS[@]}" -T "$HERE/arch-$ARCH.ld" -o "$TMP/guest.elf" $(sources "$ARCH") -lgcc
case $ARCH in
  x86_64) cp "$TMP/guest.elf" "$OUT.tmp" ;;
  arm64)  "$OBJCOPY" -O binary "$TMP/guest.elf" "$OUT.tmp" ;;   # the Image: header first, then code
esac
chmod 0644 "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
