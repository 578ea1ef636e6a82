#!/bin/bash
# Runs the test guest under QEMU with KVM *inside* an emulated machine (outer QEMU under TCG
# booting Debian's cloud kernel, whose own KVM runs the inner QEMU): the way to a KVM that runs
# a whole guest on hosts without /dev/kvm or whose /dev/kvm (kvm_pvm) does not run one.
# Usage: emulated.sh ARCH GUEST REQUESTS   (ARCH: x86_64 | arm64)
# stdout: the inner guest's serial lines as "SECONDS LINE" (the emulated machine's uptime), the
# first being "SECONDS (inner QEMU started)"; stderr: progress and the emulated machine's console.
#
# What goes into the emulated machine's initramfs: inner-root.sh (the kernel's modules, busybox,
# the inner QEMU), then emulated-init, the guest and the requests.
# Cache: ${XDG_CACHE_HOME:-~/.cache}/stealtime-tck/qemu-ARCH.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=$1
GUEST=$2
REQUESTS=$3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/stealtime-tck/qemu-$ARCH
umask 077
mkdir -p "$CACHE"
bash "$HERE/../kvm/prepare.sh" "$ARCH" "$CACHE" "$HERE/../kvm" > /dev/null

TMP=$(mktemp -d)
OUTER_PID=
cleanup() {
  [ -n "$OUTER_PID" ] && kill "$OUTER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
R=$TMP/root
bash "$HERE/inner-root.sh" "$ARCH" "$CACHE" "$R"
case $ARCH in
  x86_64)
    echo "-M q35 -bios qboot.rom -accel kvm -cpu host" > "$R/qemu-args"
    OUTER=(qemu-system-x86_64 -M q35 -accel tcg -cpu max)
    CONSOLE="ttyS0 no_timer_check" ;;
  arm64)
    echo "-M virt,gic-version=3 -accel kvm -cpu host" > "$R/qemu-args"
    OUTER=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on -accel tcg)
    CONSOLE=ttyAMA0 ;;
  *) echo "emulated.sh: unknown architecture $ARCH" >&2; exit 2 ;;
esac
install -m 0755 "$HERE/emulated-init" "$R/init"
install -m 0644 "$GUEST" "$R/guest"
install -m 0644 "$REQUESTS" "$R/requests"
(cd "$R" && find . -print0 | cpio --quiet --null -o -H newc --owner=0:0) | gzip -1 > "$TMP/initrd"
echo "$ARCH: initramfs $(( $(stat -c %s "$TMP/initrd") / 1048576 )) MiB; booting the emulated machine (TCG)" >&2

# the console: "G ..." lines are the inner guest's; the rest is the emulated machine's, to stderr
timeout 600 "${OUTER[@]}" -smp 2 -m 1024 -display none -nodefaults -serial stdio -no-reboot \
    -kernel "$CACHE/kernel" -initrd "$TMP/initrd" -append "console=$CONSOLE rdinit=/init quiet panic=-1" \
    < /dev/null 2>&1 > "$TMP/console" &
OUTER_PID=$!
wait "$OUTER_PID" || echo "$ARCH: the emulated machine exited with status $?" >&2
OUTER_PID=
tr -d '\r' < "$TMP/console" | grep -v '^G ' | sed 's/^/console: /' >&2 || true
tr -d '\r' < "$TMP/console" | sed -n 's/^G //p'
