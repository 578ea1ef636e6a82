package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.MeasurementBenchmark;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.LongSupplier;

/**
 * {@link MeasurementBenchmark} for an emulated-machine provider: real KVM in the emulated machine,
 * steal time set up as a guest would (arm64: the vCPU attribute, then PV_TIME_ST; x86: WRMSR of
 * MSR_KVM_STEAL_TIME), the steal read through {@code memory.read}. The figures behind
 * {@link EmulatedKvmProvider#TOLERANCE}.
 *
 * <pre>
 *   java -cp tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/* \
 *        dev.stealtime.tck.runner.emulatedkvm.EmulatedKvmMeasurementBenchmark arm64|x86_64 [repetitions] [background-load-threads]
 * </pre>
 * Background load threads spin on this host, outside the emulated machine: they slow QEMU down,
 * which the guest cannot tell apart from its own CPUs being slow.
 */
public final class EmulatedKvmMeasurementBenchmark {

    private static final int[] PREEMPT_MS = {1, 5, 20, 50};
    private static final int[] IDLE_MS = {5, 20};
    private static final long STRUCT = GuestLayout.low(0);
    private static final int PV_TIME_FEATURES = 0xc5000020;
    private static final int PV_TIME_ST = 0xc5000021;

    private EmulatedKvmMeasurementBenchmark() {
    }

    public static void main(String[] args) {
        Guest guest = args.length > 0 && args[0].startsWith("x86") ? Guest.X86_64 : Guest.ARM64;
        String[] rest = args.length > 0 && !args[0].matches("\\d+") ? Arrays.copyOfRange(args, 1, args.length) : args;
        EmulatedKvmProvider provider = new EmulatedKvmProvider(guest);
        System.out.println(guest.providerId + ", tolerance " + EmulatedKvmProvider.TOLERANCE);
        LongSupplier[] steal = new LongSupplier[1];
        new MeasurementBenchmark(provider, GuestLayout.forProvider(provider).spec(guest.architecture, 1), new MeasurementBenchmark.Subject() {
            @Override
            public LongSupplier enable(Vm vm) {
                if (guest == Guest.ARM64) {
                    Arm64Vcpu v = (Arm64Vcpu) vm.vcpu(0);
                    int e = v.setDeviceAttr(Arm64Vcpu.PVTIME_CTRL, Arm64Vcpu.PVTIME_IPA, STRUCT);
                    long ipa = v.smccc(PV_TIME_ST);
                    if (e != 0 || ipa != STRUCT) {
                        throw new IllegalStateException("PV time setup: SET_DEVICE_ATTR " + e + ", PV_TIME_ST 0x" + Long.toHexString(ipa));
                    }
                    steal[0] = () -> u64(vm, STRUCT + 8);
                } else {
                    if (((X86Vcpu) vm.vcpu(0)).guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, STRUCT | 1).faulted()) {
                        throw new IllegalStateException("WRMSR MSR_KVM_STEAL_TIME faulted");
                    }
                    steal[0] = () -> u64(vm, STRUCT);
                }
                return steal[0];
            }

            @Override
            public void shortEntry(Vcpu v) {
                // one short guest entry records the steal
                if (guest == Guest.ARM64) {
                    ((Arm64Vcpu) v).smccc(PV_TIME_FEATURES, PV_TIME_ST);
                } else {
                    ((X86Vcpu) v).guestRdmsr(X86Vcpu.MSR_KVM_STEAL_TIME);
                }
            }
        }, PREEMPT_MS, IDLE_MS).run(rest);
        System.exit(0); // the provider's shutdown hook stops the emulated machine
    }

    private static long u64(Vm vm, long gpa) {
        return ByteBuffer.wrap(vm.memory().read(gpa, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
