#!/bin/bash
# Builds the C adapter tck-kvm: the common files and one architecture's half (arch-ARCH-*.c / .S), the
# other architecture's left out. The one compiler command for every place the adapter is built: an
# emulated machine's initramfs (prepare.sh, with -static), the host's /dev/kvm (the kvm provider, with
# its identity and tolerance), the self-tests.
# Usage: build-adapter.sh ARCH SRC OUT [FLAG...]   (ARCH: arm64 | x86_64; SRC: this directory)
#        build-adapter.sh --sources ARCH SRC       lists the files that go in (what a cache hashes)
set -euo pipefail
if [ "${1:-}" = --sources ]; then
  LIST=1; shift
fi
ARCH=$1
SRC=$2
sources() { ls "$SRC"/*.c "$SRC"/*.S 2>/dev/null | grep -v '/arch-' || true; ls "$SRC"/arch-"$ARCH"-*.c "$SRC"/arch-"$ARCH"-*.S 2>/dev/null || true; }
case $ARCH in
  arm64)  CC=${CC:-aarch64-linux-gnu-gcc} ;;
  x86_64) CC=${CC:-gcc} ;;
  *) echo "build-adapter.sh: unknown architecture $ARCH (arm64, x86_64)" >&2; exit 2 ;;
esac
if [ -n "${LIST:-}" ]; then
  sources
  exit 0
fi
OUT=$3
shift 3
# shellcheck disable=SC2046
exec "$CC" -O2 -pthread -std=gnu11 -Wall -Wextra -Werror "$@" -I"$SRC" -o "$OUT" $(sources)
