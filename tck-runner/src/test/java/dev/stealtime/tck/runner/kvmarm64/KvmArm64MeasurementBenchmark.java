package dev.stealtime.tck.runner.kvmarm64;

import dev.stealtime.tck.runner.MeasurementBenchmark;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.support.GuestLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.LongSupplier;

/**
 * {@link MeasurementBenchmark} for the kvm-arm64 provider: real KVM/arm64 in the emulated machine,
 * PV time set up as a guest would (the vCPU attribute, then PV_TIME_ST), stolen_time read through
 * {@code memory.read}. The figures behind {@link KvmArm64Provider#TOLERANCE}.
 *
 * <pre>
 *   java -cp tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/* \
 *        dev.stealtime.tck.runner.kvmarm64.KvmArm64MeasurementBenchmark [repetitions] [background-load-threads]
 * </pre>
 * Background load threads spin on this host, outside the emulated machine: they slow QEMU down,
 * which the guest cannot tell apart from its own CPUs being slow.
 */
public final class KvmArm64MeasurementBenchmark {

    private static final int[] PREEMPT_MS = {1, 5, 20, 50};
    private static final int[] IDLE_MS = {5, 20};
    private static final long STRUCT = GuestLayout.low(0);
    private static final int PV_TIME_ST = 0xc5000021;

    private KvmArm64MeasurementBenchmark() {
    }

    public static void main(String[] args) {
        KvmArm64Provider provider = new KvmArm64Provider();
        provider.prepare();
        System.out.println("tolerance " + KvmArm64Provider.TOLERANCE);
        new MeasurementBenchmark(provider, GuestLayout.forProvider(provider).spec(Architecture.ARM64, 1), new MeasurementBenchmark.Subject() {
            @Override
            public LongSupplier enable(Vm vm) {
                Arm64Vcpu v = (Arm64Vcpu) vm.vcpu(0);
                int e = v.setDeviceAttr(Arm64Vcpu.PVTIME_CTRL, Arm64Vcpu.PVTIME_IPA, STRUCT);
                long ipa = v.smccc(PV_TIME_ST);
                if (e != 0 || ipa != STRUCT) {
                    throw new IllegalStateException("PV time setup: SET_DEVICE_ATTR " + e + ", PV_TIME_ST 0x" + Long.toHexString(ipa));
                }
                return () -> ByteBuffer.wrap(vm.memory().read(STRUCT + 8, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            }

            @Override
            public void shortEntry(Vcpu v) {
                ((Arm64Vcpu) v).smccc(0xc5000020, PV_TIME_ST); // PV_TIME_FEATURES: one short entry records the steal
            }
        }, PREEMPT_MS, IDLE_MS).run(args);
        System.exit(0); // the provider's shutdown hook stops the emulated machine
    }
}
