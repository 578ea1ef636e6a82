#!/bin/bash
# Builds the Linux KVM a replay runs on, from Debian's linux-source package, cached by patch hash.
#
#   build-kernel.sh CACHE ARCH VERSION PATCH|- SRC [plan]
#     CACHE    cache root (~/.cache/stealtime-tck/kernels)
#     ARCH     arm64: a minimal Image (allnoconfig + arm64-kvm.config: virt, PL011, virtio, initramfs, KVM)
#              x86:   kvm.ko + kvm-amd.ko for Debian's stock cloud-amd64 kernel of the same version
#                     (its config and Module.symvers from linux-headers-*-cloud-amd64)
#              x86-image: a kernel of one's own, bzImage + irqbypass.ko kvm.ko kvm-amd.ko (allnoconfig +
#                     x86-kvm.config), for kvm-x86-emulated --kernel DIR/bzImage --kvm-modules DIR
#     VERSION  the linux-source-VERSION package (6.1 by default)
#     PATCH    a unified diff (-p1) of any file of the tree, or a directory of them applied in the
#              order of their names (a series, one commit a file); '-' = stock. Which recipe a patch
#              needs (x86 or x86-image) is the caller's decision (KernelPatch.java, BuildPlan.java).
#     SRC      this directory (the config fragment)
#     plan     build nothing: unpack the tree if needed, check that PATCH applies (patch's own words,
#              exit 3 when not) and print "tree DIR", "source DEBVER" and, for x86, "packaged yes" when
#              Debian's cloud-amd64 headers are the same kernel as the source (the modules' fast path),
#              else "packaged no: WHY".
#   Prints the build directory last: Image (arm64), kvm.ko kvm-amd.ko kernel-release (x86), bzImage and
#   the three modules (x86-image), plus
#   steal_time (the upstream selftest tools/testing/selftests/kvm/steal_time.c of the same tree,
#   static) and build.log. Everything else on stderr.
#
# One working tree per ARCH and VERSION; a patch is applied, the tree built, the results copied and
# the patch reversed, so an edit costs an incremental build (arm64 ~15 s, x86 ~20 s). A tree left
# patched by an interrupted build is reversed first. The selftest is rebuilt only when the patch
# touches include/uapi (what it compiles against); otherwise the stock tree's binary is the same
# program and is copied.
set -euo pipefail
CACHE=$1 ARCH=$2 VERSION=$3 PATCH=$4 SRC=$5
umask 022
say() { echo "build-kernel: $*" >&2; }
die() { echo "build-kernel: $*" >&2; exit 1; }
case $ARCH in arm64|x86|x86-image) ;; *) die "unknown architecture '$ARCH' (arm64, x86, x86-image)";; esac
[[ $VERSION =~ ^[0-9]+\.[0-9]+$ ]] || die "bad source version '$VERSION' (e.g. 6.1)"

# ---- the patch: only KVM code, named by its hash ---------------------------------------------
MODE=${6:-build}
case $MODE in build|plan) ;; *) die "unknown mode '$MODE' (plan)";; esac
PARTS=()
if [ "$PATCH" != - ]; then
  if [ -d "$PATCH" ]; then
    mapfile -t PARTS < <(find "$PATCH" -maxdepth 1 -type f -name '*.patch' | LC_ALL=C sort)
    [ ${#PARTS[@]} -gt 0 ] || die "no *.patch in the series $PATCH"
  else
    [ -s "$PATCH" ] || die "no such patch (or empty): $PATCH"
    PARTS=("$PATCH")
  fi
  for f in "${PARTS[@]}"; do grep -qE '^\+\+\+ ' "$f" || die "not a unified diff: $f"; done
fi
case $ARCH in arm64) frag=$SRC/arm64-kvm.config ;; x86-image) frag=$SRC/x86-kvm.config ;; *) frag= ;; esac
recipe=$( { echo "$ARCH $VERSION"; [ -z "$frag" ] || cat "$frag"; } | sha256sum | cut -c1-12)
if [ "$PATCH" = - ]; then key=stock
elif [ -d "$PATCH" ]; then key=$(for f in "${PARTS[@]}"; do echo "series part"; sed -n '/^diff \|^--- \|^+++ \|^@@\|^[-+ ]/p' "$f"; done | sha256sum | cut -c1-16)
else key=$(sed -n '/^diff \|^--- \|^+++ \|^@@\|^[-+ ]/p' "$PATCH" | sha256sum | cut -c1-16); fi
ROOT=$CACHE/linux-$VERSION
OUT=$ROOT/builds/$ARCH-$recipe-$key
mkdir -p "$ROOT/builds" "$CACHE/debs"
cached() { [ -s "$OUT/steal_time" ] && { [ -s "$OUT/Image" ] || [ -s "$OUT/kvm-amd.ko" ]; }; }   # x86-image: both
# a build is published whole (mv), so a cached one is served without waiting for another build's lock
if [ "$MODE" = build ] && cached; then say "cached: $OUT"; echo "$OUT"; exit 0; fi
if [ "$MODE" = build ]; then exec 9>"$ROOT/.lock-$ARCH"; flock 9; fi     # one build per tree at a time
if [ "$MODE" = build ] && cached; then say "cached: $OUT"; echo "$OUT"; exit 0; fi

# ---- sources (once) --------------------------------------------------------------------------
srcdeb=$(ls "$CACHE"/debs/linux-source-"$VERSION"_*_all.deb 2>/dev/null | tail -1 || true)
if [ -z "$srcdeb" ]; then
  say "apt-get download linux-source-$VERSION"
  (cd "$CACHE/debs" && apt-get -q download "linux-source-$VERSION" >&2)
  srcdeb=$(ls "$CACHE"/debs/linux-source-"$VERSION"_*_all.deb | tail -1)
fi
debver=$(dpkg-deb -f "$srcdeb" Version)
if [ "$MODE" = plan ]; then
  # x86: the modules' fast path needs Debian's cloud-amd64 kernel of the very same source
  if [ "$ARCH" = x86 ]; then
    if [ -f "$ROOT/x86-headers/kernel-release" ]; then
      packaged="packaged yes"
    else
      meta=$(apt-cache depends linux-headers-cloud-amd64 2>/dev/null | awk '/Depends: linux-headers-[0-9]/{print $2; exit}')
      hv=$( [ -z "$meta" ] || apt-cache show --no-all-versions "$meta" 2>/dev/null | awk '/^Version:/{print $2; exit}')
      if [ -z "$meta" ] || [ -z "$hv" ]; then packaged="packaged no: linux-headers-cloud-amd64 is not in the archive"
      elif [ "$hv" = "$debver" ]; then packaged="packaged yes"
      else packaged="packaged no: Debian's cloud-amd64 kernel ($meta) is $hv, the source is $debver"; fi
    fi
    [ "$packaged" = "packaged yes" ] || ARCH=x86-image   # the tree the build will use
  fi
  exec 9>"$ROOT/.lock-$ARCH"; flock 9         # the tree is read while no build has it patched
fi
TREE=$ROOT/$ARCH/linux-source-$VERSION
if [ ! -f "$TREE/Makefile" ]; then
  say "unpacking $(basename "$srcdeb") for $ARCH"
  x=$(mktemp -d "$CACHE/debs/x.XXXXXX"); trap 'rm -rf "$x"' EXIT
  dpkg-deb -x "$srcdeb" "$x"
  rm -rf "$ROOT/$ARCH"; mkdir -p "$ROOT/$ARCH"
  tar -xf "$x"/usr/src/linux-source-"$VERSION".tar.xz -C "$ROOT/$ARCH"
  rm -rf "$x"; trap - EXIT
fi
cd "$TREE"

# ---- a tree left patched is reversed (a series part by part, the last first) ------------------
if [ -f .replay-applied.patch ]; then
  say "reversing the patch an interrupted build left applied"
  patch -p1 -R --batch --silent < .replay-applied.patch >&2 || die "cannot reverse .replay-applied.patch in $TREE: remove the tree"
  rm -f .replay-applied.patch
fi
if [ -d .replay-applied ]; then
  say "reversing the series an interrupted build left applied"
  for f in $(ls .replay-applied | LC_ALL=C sort -r); do
    patch -p1 -R --batch --silent < ".replay-applied/$f" >&2 || die "cannot reverse .replay-applied/$f in $TREE: remove the tree"
    rm -f ".replay-applied/$f"
  done
  rmdir .replay-applied
fi

# ---- plan: does it apply, and which x86 recipe can serve it ---------------------------------
# The check applies the parts in order to private copies of the files they touch (the tree is
# never changed), so a part that needs the one before it is checked as it will be built.
if [ "$MODE" = plan ]; then
  echo "tree $TREE"
  echo "source $debver"
  [ -z "${packaged:-}" ] || echo "$packaged"
  if [ ${#PARTS[@]} -gt 0 ]; then
    umask 077
    CHK=$(mktemp -d "${TMPDIR:-/tmp}/tck-patch-check.XXXXXX"); trap 'rm -rf "$CHK"' EXIT
    for f in "${PARTS[@]}"; do
      sed -n 's#^\(---\|+++\) [ab]/\([^\t]*\).*#\2#p' "$f"
    done | LC_ALL=C sort -u | while read -r t; do
      if [ -f "$t" ] && [ ! -f "$CHK/$t" ]; then mkdir -p "$CHK/$(dirname "$t")"; cp "$t" "$CHK/$t"; fi
    done
    for f in "${PARTS[@]}"; do
      if ! out=$(cd "$CHK" && patch -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch -r - < "$f" 2>&1); then
        why=$(echo "$out" | grep -vE '^(patching file|checking file)' | grep -m2 . | tr '\n' ' ' | sed 's/ *$//' || true)
        file=$(echo "$out" | grep -m1 -E '^(patching|checking) file' | sed -E 's/^(patching|checking) file //' || true)
        echo "$(basename "$f") does not apply to linux-source-$VERSION $debver${file:+ ($file)}: ${why:-patch exit status}" >&2
        exit 3
      fi
    done
  fi
  exit 0
fi

# ---- configuration (once per tree) -----------------------------------------------------------
if [ -n "$frag" ]; then
  if [ "$ARCH" = arm64 ]; then MK=(make -j2 ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-); else MK=(make -j2 ARCH=x86 CC=gcc-12 HOSTCC=gcc-12); fi
  if [ ! -f .replay-configured ] || ! cmp -s "$frag" .replay-configured; then
    say "$ARCH: allnoconfig + $(basename "$frag")"
    KCONFIG_ALLCONFIG=$frag "${MK[@]}" -s allnoconfig >&2
    while read -r l; do
      case $l in CONFIG_*) grep -qx "$l" .config || die "Kconfig dropped $l (dependency missing)";; esac   # x86-image's =m too
    done < "$frag"
    cp "$frag" .replay-configured
  fi
else
  # the stock kernel the modules load into: the cloud-amd64 image of the same Debian version
  HDR=$ROOT/x86-headers
  if [ ! -f "$HDR/kernel-release" ]; then
    say "x86: apt-get download the cloud-amd64 headers matching $debver"
    h=$(mktemp -d "$CACHE/debs/h.XXXXXX")
    meta=$(apt-cache depends linux-headers-cloud-amd64 | awk '/Depends: linux-headers-[0-9]/{print $2; exit}')
    [ -n "$meta" ] || die "linux-headers-cloud-amd64 not in the archive"
    common=${meta%-cloud-amd64}-common
    (cd "$h" && apt-get -q download "$meta" "$common" >&2)
    hv=$(dpkg-deb -f "$h"/"$meta"_*.deb Version)
    [ "$hv" = "$debver" ] || die "headers $meta are $hv, the source is $debver: not the same kernel"
    rm -rf "$HDR"; mkdir -p "$HDR"
    for d in "$h"/*.deb; do dpkg-deb -x "$d" "$HDR"; done
    rm -rf "$h"
    echo "${meta#linux-headers-}" > "$HDR/kernel-release"
  fi
  KREL=$(cat "$HDR/kernel-release")
  H=$HDR/usr/src/linux-headers-$KREL
  # KERNELRELEASE on the command line sets utsrelease.h and so the modules' vermagic
  MK=(make -j2 ARCH=x86 CC=gcc-12 HOSTCC=gcc-12 KERNELRELEASE=$KREL)
  if [ ! -f .replay-configured ] || [ "$(cat .replay-configured)" != "$KREL" ]; then
    say "x86: config of $KREL, modules_prepare"
    cp "$H/.config" .config
    "${MK[@]}" -s olddefconfig >&2
    "${MK[@]}" -s modules_prepare >&2
    cp "$H/Module.symvers" Module.symvers
    echo "$KREL" > .replay-configured
  fi
fi

# ---- patch, build, copy, reverse --------------------------------------------------------------
TMP=$(mktemp -d "$ROOT/builds/.tmp.XXXXXX")
unapply() {   # the patch, or the series' parts from the last to the first
  if [ -f "$TREE/.replay-applied.patch" ]; then
    (cd "$TREE" && patch -p1 -R --batch --silent < .replay-applied.patch >&2 && rm -f .replay-applied.patch) || return 1
  fi
  if [ -d "$TREE/.replay-applied" ]; then
    (cd "$TREE" && for f in $(ls .replay-applied | LC_ALL=C sort -r); do
       patch -p1 -R --batch --silent < ".replay-applied/$f" >&2 && rm -f ".replay-applied/$f" || exit 1
     done && rmdir .replay-applied) || return 1
  fi
}
cleanup() {
  unapply || true
  rm -rf "$TMP"
}
trap cleanup EXIT
LOG=$TMP/build.log
if [ -f "$PATCH" ]; then
  cp "$PATCH" "$TMP/patch"
  patch -p1 --dry-run --batch --forward --fuzz=0 < "$TMP/patch" > "$TMP/dry" 2>&1 \
    || die "the patch does not apply to linux-source-$VERSION $debver: $(grep -m2 -iE 'fail|reject|can.t find' "$TMP/dry" | tr '\n' ' ')"
  cp "$TMP/patch" .replay-applied.patch
  patch -p1 --batch --forward --fuzz=0 --silent < "$TMP/patch" >&2
elif [ -d "$PATCH" ]; then
  # a series: each part applied in order (recorded first, so an interruption reverses it)
  mkdir -p .replay-applied
  for f in "${PARTS[@]}"; do
    cp "$f" ".replay-applied/$(basename "$f")"
    if ! patch -p1 --batch --forward --fuzz=0 --silent < "$f" > "$TMP/dry" 2>&1; then
      patch -p1 -R --batch --silent < "$f" >/dev/null 2>&1 || true
      rm -f ".replay-applied/$(basename "$f")"
      die "$(basename "$f") does not apply to linux-source-$VERSION $debver: $(grep -m2 -iE 'fail|reject|can.t find' "$TMP/dry" | tr '\n' ' ')"
    fi
  done
  cat "${PARTS[@]}" > "$TMP/patch"
fi
start=$(date +%s)
if [ "$ARCH" = arm64 ]; then
  say "arm64: make Image ($key)"
  "${MK[@]}" Image > "$LOG" 2>&1 || die "make Image failed: $(grep -m3 -E 'error|Error' "$LOG" | tr '\n' ' ')"
  cp arch/arm64/boot/Image "$TMP/Image"
elif [ "$ARCH" = x86-image ]; then
  say "x86-image: make bzImage modules ($key)"
  "${MK[@]}" bzImage modules > "$LOG" 2>&1 || die "make bzImage modules failed: $(grep -m3 -E 'error|Error' "$LOG" | tr '\n' ' ')"
  cp arch/x86/boot/bzImage arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko virt/lib/irqbypass.ko "$TMP/"
  "${MK[@]}" -s kernelrelease > "$TMP/kernel-release"
else
  say "x86: make M=arch/x86/kvm modules ($key)"
  "${MK[@]}" M=arch/x86/kvm CONFIG_KVM_INTEL= modules > "$LOG" 2>&1 \
    || die "make modules failed: $(grep -m3 -E 'error|Error' "$LOG" | tr '\n' ' ')"
  cp arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko "$TMP/"
  echo "$KREL" > "$TMP/kernel-release"
fi
echo "kernel build: $(( $(date +%s) - start )) s" >> "$LOG"
echo "$(( $(date +%s) - start ))" > "$TMP/build-seconds"
# the touched C files this configuration compiles none of (said in the replay's row)
if [ -s "$TMP/patch" ]; then
  sed -n 's#^+++ b/\(.*\.c\)\(\t.*\)\{0,1\}$#\1#p' "$TMP/patch" | LC_ALL=C sort -u | while read -r c; do
    [ -f "${c%.c}.o" ] || echo "$c"
  done > "$TMP/not-compiled"
fi

# ---- the upstream selftest, from the same tree ------------------------------------------------
stock=$ROOT/builds/$ARCH-$recipe-stock
if [ "$PATCH" != - ] && ! grep -qE '^\+\+\+ b/(include/uapi/|arch/[^/]+/include/uapi/|tools/)' "$TMP/patch" && [ -s "$stock/steal_time" ]; then
  cp "$stock/steal_time" "$TMP/steal_time"
  echo "selftest: the stock tree's steal_time (the patch touches no uapi header and nothing under tools/)" >> "$LOG"
else
  say "selftest: tools/testing/selftests/kvm/steal_time"
  so=$TMP/selftest
  mkdir -p "$so"
  if [ "$ARCH" = arm64 ]; then
    sm=(make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
  elif [ "$ARCH" = x86-image ]; then
    sm=(make ARCH=x86 CC=gcc-12 HOSTCC=gcc-12)
  else
    sm=(make ARCH=x86 CC=gcc-12)
  fi
  # the uapi headers the selftests compile against, generated in the tree's usr/include
  "${sm[@]}" -j2 -s headers >> "$LOG" 2>&1 || die "make headers failed: $(tail -3 "$LOG" | tr '\n' ' ')"
  # -include linux/stddef.h: Debian's 6.1 backports __DECLARE_FLEX_ARRAY into the uapi <asm/kvm.h>, whose
  # <linux/types.h> the selftests take from tools/include, which does not define it (a build fix of
  # the harness only; the test's code is untouched). Static: the machine's initramfs has no libc.
  "${sm[@]}" -C tools/testing/selftests/kvm OUTPUT="$so" "EXTRA_CFLAGS=-static -include linux/stddef.h" "$so/steal_time" >> "$LOG" 2>&1 \
    || die "the steal_time selftest does not build: $(grep -m3 -E 'error' "$LOG" | tr '\n' ' ')"
  cp "$so/steal_time" "$TMP/steal_time"
  rm -rf "$so"
fi

# ---- publish ----------------------------------------------------------------------------------
unapply || die "cannot reverse the patch in $TREE: remove the tree"
rm -f "$TMP/dry"
echo "linux-source-$VERSION $debver" > "$TMP/source"
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
echo "$OUT"
