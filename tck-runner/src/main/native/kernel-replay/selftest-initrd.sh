#!/bin/bash
# Packs the initramfs of a selftest boot: busybox, selftest-init as /init, the steal_time selftest
# and, in load order, the KVM modules to insmod first.
#   selftest-initrd.sh OUT.cpio.gz BUSYBOX STEAL_TIME SRC [MODULE.ko...]
set -euo pipefail
out=$1 busybox=$2 selftest=$3 src=$4
shift 4
umask 077
root=$(mktemp -d "${TMPDIR:-/tmp}/tck-selftest-root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/modules"
install -m 755 "$busybox" "$root/bin/busybox"
install -m 755 "$selftest" "$root/bin/steal_time"
install -m 755 "$src/selftest-init" "$root/init"
for m in "$@"; do
  cp "$m" "$root/modules/"
  basename "$m" .ko >> "$root/modules/order"
done
(cd "$root" && find . -print0 | cpio --quiet --null -o -H newc --owner=0:0) | gzip -6 > "$out"
