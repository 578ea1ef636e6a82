#!/bin/busybox sh
# Runs in the emulated x86-64 machine in place of the adapter (KvmDriverComparison appends it to the
# machine's initramfs as /bin/tck-kvm, which the machine's /init starts once the KVM modules are
# loaded). On the guest's own /dev/kvm it runs, alternately and ROUNDS times each, the x86 suite
# through the Java `kvm` provider and through the C adapter built for the host (exec: ... --stdio) (or only the DRIVERS named),
# then the measurement benchmark through each. Every figure goes to the console as a line
# "TCK-COMPARE key value..." that the host collects; the last line is "TCK-COMPARE EXIT".
export PATH=/jdk/bin:/bin HOME=/tmp JAVA_HOME=/jdk
/bin/busybox mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname tck-guest
ip link set lo up 2>/dev/null
cd /tmp
rounds=$(cat /tck/rounds 2>/dev/null || echo 1)
drivers=$(cat /tck/drivers 2>/dev/null || echo java c)
provider_of() { if [ "$1" = java ]; then echo kvm; else echo "exec:/tck/tck-kvm --stdio"; fi; }
cp_run="/tck/tck-runner.jar:/tck/lib/*"
cp_test="/tck/test-classes:/tck/classes:/tck/lib/*"
say() { echo "TCK-COMPARE $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
say machine "$(uname -r) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') cpus=$(grep -c ^processor /proc/cpuinfo) kvm=$([ -e /dev/kvm ] && echo yes || echo no)"
say java "$(java -version 2>&1 | head -1)"

suite() { # NAME PROVIDER
  out=/tmp/out-$1-$2
  t0=$(now)
  rc=0
  java -cp "$cp_run" dev.stealtime.tck.runner.TckCli run --provider "$3" --suite x86 --out "$out" --no-report \
       --call-timeout 120s >/tmp/run.log 2>&1 || rc=$?
  t1=$(now)
  say suite "$1 round=$2 rc=$rc wall=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')s"
  grep -m1 -E "passed, [0-9]+ failed" /tmp/run.log | sed "s/^/TCK-COMPARE verdict $1 round=$2 /"
  grep -w FAIL /tmp/run.log | grep -v "passed, " | head -5 | cut -c1-300 | sed "s/^/TCK-COMPARE failed $1 round=$2 /"
  [ "$rc" -le 1 ] || tail -5 /tmp/run.log | sed "s/^/TCK-COMPARE log $1 round=$2 /"
  # each race's own report (X86-TORN-READ: "torn steal values", X86-VERSION-ADVANCES: "version covers
  # every update"): its name, then samples, readers, time and rate
  cat "$out"/allure-results/*-attachment* 2>/dev/null | awk -v who="$1 round=$2" '
    /^race: / { name = $0; sub(/^race: (x86 version protocol, )?/, "", name); sub(/ \(vCPU.*/, "", name) }
    /^samples [0-9,]+ by [0-9]+ reader\(s\) in [0-9]+ ms \([0-9,]+\/s\)/ {
      line = $0; sub(/, writer steps.*/, "", line); print "TCK-COMPARE race " who " " name ": " line }' | head -4
  rm -rf "$out"
}

if [ "$rounds" -eq 0 ]; then  # a smoke check: both drivers answer here
  t0=$(now)
  java -cp "$cp_run" dev.stealtime.tck.runner.TckCli providers 2>&1 | grep -E "^kvm |why not" | sed "s/^/TCK-COMPARE providers /"
  java -cp "$cp_run" dev.stealtime.tck.runner.TckCli providers --provider "exec:/tck/tck-kvm --stdio" 2>&1 | head -20 \
    | sed "s/^/TCK-COMPARE exec /"
  say smoke "$(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}') s"
  say EXIT
  exit 0
fi
i=1
while [ "$i" -le "$rounds" ]; do
  for which in $drivers; do suite "$which" "$i" "$(provider_of "$which")"; done
  i=$((i + 1))
done
for which in $drivers; do
  java -Dtck.provider="$(provider_of "$which")" -cp "$cp_test" dev.stealtime.tck.runner.kvm.KvmMeasurementBenchmark 20 0 >/tmp/bench.log 2>&1 \
    || say bench "$which failed: $(tail -3 /tmp/bench.log | tr '\n' ' ')"
  sed "s/^/TCK-COMPARE bench $which /" /tmp/bench.log
done
say EXIT
