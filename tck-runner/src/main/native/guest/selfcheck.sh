#!/bin/bash
# Boots the test guest under QEMU and checks its serial protocol (docs/test-guest-protocol.md).
# Usage: selfcheck.sh ARCH [MODE]      ARCH: x86_64 | arm64
#   MODE tcg       (default) QEMU on this host, emulated CPU: the protocol itself, no steal time
#   MODE kvm       QEMU on this host with -accel kvm (TCK_GUEST_CPU overrides -cpu host; a host
#                  whose /dev/kvm is kvm_pvm needs TCK_GUEST_CPU=host,arch-capabilities=off: with
#                  plain host QEMU 7.2 stops at once, "failed to set MSR 0x10a")
#   MODE emulated  QEMU -accel kvm -cpu host inside the emulated machine of emulated.sh, with a
#                  busy loop on the same CPU: the guest sees KVM's steal time and reads it growing
# The requests go in as one batch (the guest reads the next line when it has answered the last);
# the answers come back one line each, timestamped, and are judged afterwards. Exit status 0 when
# every check passes. Prints the transcript, each failed check, the boot time and the steal figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=${1:?usage: selfcheck.sh x86_64|arm64 [tcg|kvm|emulated]}
MODE=${2:-tcg}
case $ARCH/$MODE in
  x86_64/tcg|x86_64/kvm|x86_64/emulated|arm64/tcg|arm64/kvm|arm64/emulated) ;;
  *) echo "selfcheck.sh: unknown ARCH/MODE $ARCH/$MODE" >&2; exit 2 ;;
esac
KVM=no
[ "$MODE" = tcg ] || KVM=yes
umask 077
TMP=$(mktemp -d)
RUNNER_PID=
# stops what this script started (QEMU's timeout, or emulated.sh: each stops its QEMU on TERM)
cleanup() {
  [ -f "$TMP/runner.pid" ] && RUNNER_PID=$(cat "$TMP/runner.pid")
  [ -n "$RUNNER_PID" ] && kill "$RUNNER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
bash "$HERE/build.sh" "$ARCH" "$TMP/guest"

# ---- the requests and what each answer must match (a tab between them) -------------------------
LONG=$(printf 'x%.0s' $(seq 1 700))
{
  printf '%s\t%s\n' \
    "hello"                                "^ok tck-guest version=1 arch=$ARCH vcpus=2 " \
    "bogus"                                "^err unknown request" \
    "hello there"                          "^err unknown request" \
    "run 12abc"                            "^err bad number" \
    "$LONG"                                "^err line too long$" \
    "read 0x300100 0"                      "^err length" \
    "run 50000000"                         "^ok elapsed=[0-9]+$" \
    "idle 50000000"                        "^ok elapsed=[0-9]+ wakeups=[1-9][0-9]*$" \
    "@1 hello"                             "^ok tck-guest version=1 arch=$ARCH vcpus=2 " \
    "@1 run 20000000"                      "^ok elapsed=[0-9]+$" \
    "@1 idle 20000000"                     "^ok elapsed=[0-9]+ wakeups=[1-9][0-9]*$" \
    "@2 hello"                             "^err no such vCPU$" \
    "@x hello"                             "^err no such vCPU$"
  if [ "$ARCH" = x86_64 ]; then
    M=0x300100          # scratch RAM (hello: free=0x200000-...)
    printf '%s\t%s\n' \
      "write $M 0102030405060708"          "^ok$" \
      "read $M 8"                          "^ok 0102030405060708$" \
      "@1 read 0x300101 3"                 "^ok 020304$" \
      "cpuid 0 0"                          "^ok 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+ 0x[0-9a-f]+$" \
      "@1 cpuid 1 0"                       "^ok 0x" \
      "rdmsr 0x10"                         "^ok 0x[0-9a-f]+$"
    if [ $KVM = no ]; then
      # QEMU 7.2's TCG offers no KVM leaves, reads unknown MSRs as 0 and ignores writes: no #GP
      printf '%s\t%s\n' \
        "cpuid 0x40000001 0"               "^ok 0x0 " \
        "rdmsr 0x4b564d03"                 "^ok 0x0$"
    else
      # MSR_KVM_STEAL_TIME: reserved bits 5:1 #GP; vCPU 0's structure at 0x200000, vCPU 1's at +64
      printf '%s\t%s\n' \
        "cpuid 0x40000000 0"               "^ok 0x[0-9a-f]+ 0x4b4d564b 0x564b4d56 0x4d$" \
        "cpuid 0x40000001 0"               "^ok 0x[0-9a-f]*[2367abef][0-9a-f] " \
        "wrmsr 0x4b564d03 0x200003"        "^#GP$" \
        "rdmsr 0x4b564d03"                 "^ok 0x0$" \
        "wrmsr 0x4b564d03 0x200001"        "^ok$" \
        "rdmsr 0x4b564d03"                 "^ok 0x200001$" \
        "@1 wrmsr 0x4b564d03 0x200041"     "^ok$" \
        "read 0x200000 16"                 "^ok [0-9a-f]{32}$" \
        "run 2000000000"                   "^ok elapsed=[0-9]+$" \
        "read 0x200000 16"                 "^ok [0-9a-f]{32}$" \
        "idle 1000000000"                  "^ok elapsed=[0-9]+ wakeups=[1-9][0-9]*$" \
        "read 0x200000 16"                 "^ok [0-9a-f]{32}$" \
        "run 2000000000"                   "^ok elapsed=[0-9]+$" \
        "read 0x200000 16"                 "^ok [0-9a-f]{32}$" \
        "@1 read 0x200040 16"              "^ok [0-9a-f]{32}$" \
        "@1 run 1000000000"                "^ok elapsed=[0-9]+$" \
        "@1 read 0x200040 16"              "^ok [0-9a-f]{32}$" \
        "wrmsr 0x4b564d03 0"               "^ok$" \
        "@1 wrmsr 0x4b564d03 0"            "^ok$"
    fi
  else
    printf '%s\t%s\n' \
      "write 0x44000000 0102030405060708"  "^ok$" \
      "read 0x44000000 8"                  "^ok 0102030405060708$" \
      "@1 read 0x44000001 3"               "^ok 020304$" \
      "smccc 0x84000000"                   "^ok 0x1000[0-9a-f] " \
      "@1 smccc 0x84000000"                "^ok 0x1000[0-9a-f] "
    if [ $KVM = no ]; then
      # QEMU's TCG answers every HVC as PSCI: NOT_SUPPORTED; nothing at QEMU's PV-time IPA
      printf '%s\t%s\n' \
        "smccc 0x80000001 0xc5000020"      "^ok 0xffffffffffffffff " \
        "read 0x090a0000 8"                "^#EXC esr=0x96"
    else
      # SMCCC 1.1+, PV_TIME_FEATURES and PV_TIME_ST offered; QEMU's IPAs 0x090a0000 + n * 64
      printf '%s\t%s\n' \
        "smccc 0x80000000"                 "^ok 0x1000[1-9a-f] " \
        "smccc 0x80000001 0xc5000020"      "^ok 0x0 " \
        "smccc 0xc5000020 0xc5000021"      "^ok 0x0 " \
        "smccc 0xc5000021"                 "^ok 0x90a0000 " \
        "@1 smccc 0xc5000021"              "^ok 0x90a0040 " \
        "read 0x090a0000 16"               "^ok [0-9a-f]{32}$" \
        "run 2000000000"                   "^ok elapsed=[0-9]+$" \
        "read 0x090a0000 16"               "^ok [0-9a-f]{32}$" \
        "idle 1000000000"                  "^ok elapsed=[0-9]+ wakeups=[1-9][0-9]*$" \
        "read 0x090a0000 16"               "^ok [0-9a-f]{32}$" \
        "run 2000000000"                   "^ok elapsed=[0-9]+$" \
        "read 0x090a0000 16"               "^ok [0-9a-f]{32}$" \
        "@1 read 0x090a0040 16"            "^ok [0-9a-f]{32}$" \
        "@1 run 1000000000"                "^ok elapsed=[0-9]+$" \
        "@1 read 0x090a0040 16"            "^ok [0-9a-f]{32}$"
    fi
  fi
  printf '%s\t%s\n' "off" "^$"          # powers off: no answer expected
} > "$TMP/checks"
cut -f1 "$TMP/checks" > "$TMP/requests"

# ---- run: every output line as "SECONDS LINE" ----------------------------------------------------
case $ARCH in
  # qboot instead of SeaBIOS: under kvm_pvm the guest is ready in 0.8 s instead of 7.5-11.7 s
  x86_64) QEMU=(qemu-system-x86_64 -M q35 -bios /usr/share/qemu/qboot.rom) ;;
  arm64)  QEMU=(qemu-system-aarch64 -M virt,gic-version=3) ;;
esac
case $MODE/$ARCH in
  tcg/x86_64) QEMU+=(-accel tcg -cpu max) ;;
  tcg/arm64)  QEMU+=(-accel tcg -cpu max,pauth-impdef=on) ;;
  kvm/*)      QEMU+=(-accel kvm -cpu "${TCK_GUEST_CPU:-host}") ;;
esac
QEMU+=(-smp 2 -m 256 -display none -nodefaults -serial stdio -no-reboot -kernel "$TMP/guest")
START=$EPOCHREALTIME
if [ "$MODE" = emulated ]; then
  bash "$HERE/emulated.sh" "$ARCH" "$TMP/guest" "$TMP/requests" > "$TMP/transcript" &
  RUNNER_PID=$!
  wait "$RUNNER_PID" || true
else
  # timeout's PID goes to runner.pid (QEMU is behind a pipe here, not this shell's child)
  { timeout 120 "${QEMU[@]}" < "$TMP/requests" 2> "$TMP/qemu.err" & echo $! > "$TMP/runner.pid"; wait; } \
    | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"; done > "$TMP/transcript"
  sed 's/^/qemu: /' "$TMP/qemu.err" >&2
fi
RUNNER_PID=
rm -f "$TMP/runner.pid"

# ---- judge ---------------------------------------------------------------------------------------
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ready=$(grep -n -m1 ' ready tck-guest ' "$TMP/transcript" | cut -d: -f1 || true)
if [ -z "$ready" ]; then
  echo "--- transcript"; cat "$TMP/transcript"
  echo "FAIL: the guest never said ready"
  exit 1
fi
T0=$(sed -n "${ready}p" "$TMP/transcript" | cut -d' ' -f1)
# inside the emulated machine the clock is its uptime, and the first line says when QEMU started
[ "$MODE" = emulated ] && START=$(head -1 "$TMP/transcript" | cut -d' ' -f1)
mapfile -t ANSWERS < <(tail -n +"$((ready + 1))" "$TMP/transcript")
mapfile -t CHECKS < "$TMP/checks"
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }   # seconds, fractional
# little-endian field of a read answer: le HEX BYTE-OFFSET BYTES -> decimal
le() { local h=$1 v="" i; for ((i = $2 + $3 - 1; i >= $2; i--)); do v+=${h:2*i:2}; done; echo $((16#$v)); }
echo "--- transcript (seconds since ready, request -> answer)"
steal_line=()
for i in "${!CHECKS[@]}"; do
  req=${CHECKS[$i]%%$'\t'*}
  want=${CHECKS[$i]#*$'\t'}
  line=${ANSWERS[$i]:-}
  t=${line%% *}
  got=${line#* }
  [ -n "$line" ] || got="(no answer)"
  [ "$req" = off ] && { [ -z "$line" ] || bad "off: answered '$got' (did not power off)"; continue; }
  printf '%8.3f  %-32.32s -> %s\n' "$(minus "${t:-0}" "$T0")" "$req" "$got"
  [[ $got =~ $want ]] || bad "$req: '$got' does not match '$want'"
  if [[ $req =~ ^(@1\ )?(run|idle)\ ([0-9]+)$ && $got =~ elapsed=([0-9]+) ]]; then
    (( BASH_REMATCH[1] >= ${req##* } )) || bad "$req: elapsed ${BASH_REMATCH[1]} ns is short"
  fi
  # steal-time structure samples: x86 steal at 0, version at 8; arm64 stolen_time at 8
  if [[ $req =~ ^(@1\ )?read\ 0x(200000|200040|090a0000|090a0040)\ 16$ && $got =~ ^ok\ ([0-9a-f]{32})$ ]]; then
    h=${BASH_REMATCH[1]}
    if [ "$ARCH" = x86_64 ]; then
      steal_line+=("${req#@1 } version=$(le "$h" 8 4) steal_ns=$(le "$h" 0 8) t=$t")
    else
      steal_line+=("${req#@1 } revision=$(le "$h" 0 4) stolen_ns=$(le "$h" 8 8) t=$t")
    fi
  fi
done
echo "--- boot: ready $(minus "$T0" "$START") s after QEMU started ($MODE)"
if [ ${#steal_line[@]} -gt 0 ]; then
  echo "--- steal-time samples (address, fields, guest-side time of the answer)"
  printf '    %s\n' "${steal_line[@]}"
  # each structure: versions even and not decreasing, steal not decreasing
  for addr in 0x200000 0x200040 0x090a0000 0x090a0040; do
    prev_v=-1; prev_s=-1
    for l in "${steal_line[@]}"; do
      [[ $l == "read $addr "* ]] || continue
      [[ $l =~ (version|revision)=([0-9]+)\ (steal|stolen)_ns=([0-9]+) ]] || continue
      v=${BASH_REMATCH[2]}; s=${BASH_REMATCH[4]}
      if [ "$ARCH" = x86_64 ]; then
        (( v % 2 == 0 )) || bad "$addr: odd version $v"
        (( v >= prev_v )) || bad "$addr: version went back $prev_v -> $v"
      fi
      (( s >= prev_s )) || bad "$addr: steal went back $prev_s -> $s"
      first_s=${first_s:-$s}
      prev_v=$v; prev_s=$s
    done
    [ "$prev_s" -ge 0 ] && echo "    $addr: steal grew by $(( (prev_s - first_s) / 1000000 )) ms over its samples"
    unset first_s
  done
fi
[ $fail = 0 ] && echo "PASS: $ARCH $MODE, ${#CHECKS[@]} requests"
exit $fail
