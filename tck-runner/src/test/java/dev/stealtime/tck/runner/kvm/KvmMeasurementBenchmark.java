package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.runner.MeasurementBenchmark;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.LongSupplier;

/**
 * {@link MeasurementBenchmark} for the kvm provider (x86: the MSR registers the structure, the live
 * view reads it). Reading run_delay after the entry that establishes the baseline steal would count
 * up to 24 ms (in 400 samples) of run-queue wait on this loaded machine. The figures behind
 * {@link KvmProvider#TOLERANCE}.
 *
 * <pre>
 *   java -cp tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/* \
 *        dev.stealtime.tck.runner.kvm.KvmMeasurementBenchmark [repetitions] [background-load-threads]
 * </pre>
 * Background load threads are unpinned SCHED_OTHER spinners, standing in for whatever else the
 * machine is doing.
 */
public final class KvmMeasurementBenchmark {

    private static final int[] PREEMPT_MS = {1, 5, 20, 50};
    private static final int[] IDLE_MS = {5, 20};
    private static final long STRUCT = GuestLayout.low(0);

    private KvmMeasurementBenchmark() {
    }

    public static void main(String[] args) throws java.io.IOException {
        // -Dtck.provider=exec:... : the same rows through an adapter on this /dev/kvm (the C adapter
        // built for the host, KvmDriverComparison), its guest memory read through the protocol
        String id = System.getProperty("tck.provider", "kvm");
        java.nio.file.Path log = java.nio.file.Files.createTempFile("tck-bench-adapter-", ".log");
        dev.stealtime.tck.spi.HypervisorProvider provider = id.equals("kvm") ? new KvmProvider()
                : dev.stealtime.tck.runner.adapter.AdapterSources.resolve(id, log)
                        .orElseThrow(() -> new IllegalArgumentException("not an adapter: " + id));
        System.out.println("tolerance " + (id.equals("kvm") ? KvmProvider.TOLERANCE : provider.timing()));
        new MeasurementBenchmark(provider, GuestLayout.forProvider(provider).spec(Architecture.X86_64, 1), new MeasurementBenchmark.Subject() {
            @Override
            public LongSupplier enable(Vm vm) {
                X86Vcpu v = (X86Vcpu) vm.vcpu(0);
                if (v.guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, STRUCT | 1).faulted()) {
                    throw new IllegalStateException("WRMSR faulted");
                }
                if (vm.memory().sharing() != dev.stealtime.tck.spi.GuestMemory.Sharing.LIVE) {
                    return () -> ByteBuffer.wrap(vm.memory().read(STRUCT, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                }
                ByteBuffer st = vm.memory().liveView(STRUCT, 64).order(ByteOrder.LITTLE_ENDIAN);
                return () -> st.getLong(0);
            }

            @Override
            public void shortEntry(Vcpu v) {
                ((X86Vcpu) v).guestRdmsr(X86Vcpu.MSR_KVM_STEAL_TIME); // one short entry: KVM records the steal
            }
        }, PREEMPT_MS, IDLE_MS).run(args);
        dev.stealtime.tck.runner.adapter.AdapterSources.closeAll();
        java.nio.file.Files.deleteIfExists(log);
    }
}
