#!/bin/bash
# Runs the test guest under QEMU with KVM *inside* an emulated machine (outer QEMU under TCG
# booting Debian's cloud kernel, whose own KVM runs the inner QEMU): the way to a KVM that runs
# a whole guest on hosts without /dev/kvm or whose /dev/kvm (kvm_pvm) does not run one.
# Usage: emulated.sh ARCH GUEST REQUESTS   (ARCH: x86_64 | arm64)
# stdout: the inner guest's serial lines as "SECONDS LINE" (the emulated machine's uptime), the
# first being "SECONDS (inner QEMU started)"; stderr: progress and the emulated machine's console.
#
# What goes into the emulated machine's initramfs:
#   the kernel, busybox, x86 KVM modules  ../kvm/prepare.sh (Debian's linux-image-cloud-*, fetched
#                                         once with apt-get download, private APT configuration)
#   x86_64: the inner QEMU                this host's qemu-system-x86_64, the libraries ldd names,
#                                         SeaBIOS and the option ROMs (pvh.bin boots the guest)
#   arm64:  the inner QEMU                Debian's arm64 qemu-system-arm and its dependencies,
#                                         fetched once (apt-get install --download-only through a
#                                         private arm64 APT configuration); the libraries the
#                                         binary needs, by soname, and the loader
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
mkdir -p "$R"/{bin,dev,proc,sys,tmp,usr/bin,usr/share/qemu,kvm-modules}

case $ARCH in
  x86_64)
    cp /usr/bin/qemu-system-x86_64 "$R/usr/bin/qemu"
    for lib in $(ldd /usr/bin/qemu-system-x86_64 | awk '/=>/ {print $3} /^\t\/.*ld-linux/ {print $1}'); do
      mkdir -p "$R$(dirname "$lib")"
      cp -L "$lib" "$R$lib"
    done
    # the firmware: qboot (what the guest boots with: a fraction of SeaBIOS's time), SeaBIOS
    # (Debian keeps it in /usr/share/seabios) and the option ROMs, all in QEMU's -L dir
    for f in /usr/share/qemu/qboot.rom /usr/share/seabios/bios-256k.bin \
             /usr/share/qemu/{pvh.bin,kvmvapic.bin,linuxboot_dma.bin}; do
      cp -L "$f" "$R/usr/share/qemu/"
    done
    cp "$CACHE"/kvm-modules/*.ko "$R/kvm-modules/"
    echo "-M q35 -bios qboot.rom -accel kvm -cpu host" > "$R/qemu-args"
    OUTER=(qemu-system-x86_64 -M q35 -accel tcg -cpu max)
    CONSOLE="ttyS0 no_timer_check" ;;
  arm64)
    Q=$CACHE/qemu-root
    if [ ! -x "$Q/usr/bin/qemu-system-aarch64" ]; then
      # Debian's arm64 QEMU, every dependency downloaded (an empty dpkg status: nothing installed)
      A=$CACHE/apt-qemu
      rm -rf "$A" "$Q" "$CACHE/qemu-debs"
      mkdir -p "$A"/etc/apt/sources.list.d "$A"/etc/apt/apt.conf.d "$A"/etc/apt/preferences.d \
               "$A"/var/lib/apt/lists/partial "$A"/var/cache/apt/archives/partial "$CACHE/qemu-debs/partial"
      : > "$A/status"
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
    cp -L "$Q/lib/ld-linux-aarch64.so.1" "$R/lib/"
    echo "-M virt,gic-version=3 -accel kvm -cpu host" > "$R/qemu-args"
    OUTER=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on -accel tcg)
    CONSOLE=ttyAMA0 ;;
  *) echo "emulated.sh: unknown architecture $ARCH" >&2; exit 2 ;;
esac
cp "$CACHE/busybox" "$R/bin/busybox"
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
