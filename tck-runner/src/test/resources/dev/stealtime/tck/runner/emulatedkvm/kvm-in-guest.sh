#!/bin/busybox sh
# Runs in the emulated x86-64 machine in place of the adapter (KvmInGuest appends it to the machine's
# initramfs as /bin/tck-kvm, which the machine's /init starts once the KVM modules are loaded). On the
# guest's own /dev/kvm it runs the x86 suite through the kvm provider ROUNDS times (the C adapter,
# prebuilt static with the kvm provider's flags: TCK_KVM_ADAPTER, the guest has no compiler), then the
# measurement benchmark. Every figure goes to the console as a line "TCK-GUEST key value..." that the
# host collects; the last line is "TCK-GUEST EXIT".
export PATH=/jdk/bin:/bin HOME=/tmp JAVA_HOME=/jdk TCK_KVM_ADAPTER=/tck/tck-kvm
/bin/busybox mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname tck-guest
ip link set lo up 2>/dev/null
cd /tmp
rounds=$(cat /tck/rounds 2>/dev/null || echo 1)
cp_run="/tck/tck-runner.jar:/tck/lib/*"
cp_test="/tck/test-classes:/tck/classes:/tck/lib/*"
say() { echo "TCK-GUEST $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
say machine "$(uname -r) $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //') cpus=$(grep -c ^processor /proc/cpuinfo) kvm=$([ -e /dev/kvm ] && echo yes || echo no)"
say java "$(java -version 2>&1 | head -1)"

suite() { # ROUND
  out=/tmp/out-$1
  t0=$(now)
  # the run's output also on the console, each line as "TCK-RUN ..." (shown with -Dtck.guest.echo=true)
  { java -cp "$cp_run" dev.stealtime.tck.runner.TckCli run --provider kvm --suite x86 --out "$out" --no-report \
         --call-timeout 120s 2>&1; echo $? > /tmp/rc; } | tee /tmp/run.log | sed 's/^/TCK-RUN /'
  rc=$(cat /tmp/rc)
  t1=$(now)
  say suite "round=$1 rc=$rc wall=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')s"
  grep -m1 -E "passed, [0-9]+ failed" /tmp/run.log | sed "s/^/TCK-GUEST verdict round=$1 /"
  grep -E "^[a-z0-9]+ +FAIL " /tmp/run.log | head -5 | cut -c1-300 | sed "s/^/TCK-GUEST failed round=$1 /"
  [ "$rc" -le 1 ] || tail -5 /tmp/run.log | sed "s/^/TCK-GUEST log round=$1 /"
  # each race's own report (X86-TORN-READ: "torn steal values", X86-VERSION-ADVANCES: "version covers
  # every update"): its name, then samples, readers, time and rate
  cat "$out"/allure-results/*-attachment* 2>/dev/null | awk -v who="round=$1" '
    /^race: / { name = $0; sub(/^race: (x86 version protocol, )?/, "", name); sub(/ \(vCPU.*/, "", name) }
    /^samples [0-9,]+ by [0-9]+ reader\(s\) in [0-9]+ ms \([0-9,]+\/s\)/ {
      line = $0; sub(/, writer steps.*/, "", line); print "TCK-GUEST race " who " " name ": " line }' | head -4
  rm -rf "$out"
}

if [ "$rounds" -eq 0 ]; then  # a smoke check: the kvm provider is available here
  t0=$(now)
  java -cp "$cp_run" dev.stealtime.tck.runner.TckCli providers 2>&1 | grep -E "^kvm |why not" | sed "s/^/TCK-GUEST providers /"
  say smoke "$(echo "$t0 $(now)" | awk '{printf "%.1f", $2 - $1}') s"
  say EXIT
  exit 0
fi
i=1
while [ "$i" -le "$rounds" ]; do
  suite "$i"
  i=$((i + 1))
done
java -cp "$cp_test" dev.stealtime.tck.runner.kvm.KvmMeasurementBenchmark 20 0 >/tmp/bench.log 2>&1 \
  || say bench "failed: $(tail -3 /tmp/bench.log | tr '\n' ' ')"
sed "s/^/TCK-GUEST bench /" /tmp/bench.log
say EXIT
