package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.SkipException;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeClass;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shared set-up of the kvm provider's tests: they drive the real /dev/kvm, and are skipped only
 * when this machine has no /dev/kvm at all. Where /dev/kvm exists but the provider says it is not
 * available, that is a failure, not a skip.
 */
abstract class KvmTestSupport {

    static final int MSR = X86Vcpu.MSR_KVM_STEAL_TIME;
    /** The structure slot the tests use, in low RAM above the provider's 64 KiB. */
    static final long GPA = GuestLayout.low(0);

    protected KvmProvider provider;
    protected Vm vm;

    @BeforeClass(alwaysRun = true)
    public void requireKvm() {
        if (!Files.exists(Path.of(KvmProvider.DEVICE))) {
            throw new SkipException(KvmProvider.DEVICE + " does not exist on this machine: the kvm provider cannot be tested here");
        }
        provider = new KvmProvider();
        Availability a = provider.availability();
        assertThat(a.available()).as("kvm provider availability (%s)", a.reason()).isTrue();
    }

    @AfterMethod(alwaysRun = true)
    public void closeVm() {
        if (vm != null) {
            vm.close();
            vm = null;
        }
    }

    /** The TCK's full layout (LOW, MID, HIGH) with {@code vcpus} vCPUs, steal time offered or not. */
    VmSpec spec(int vcpus, boolean offered) {
        return GuestLayout.forProvider(provider).spec(Architecture.X86_64, vcpus).withStealTimeOffered(offered);
    }

    X86Vcpu open(int vcpus, boolean offered) {
        vm = provider.open(spec(vcpus, offered));
        return (X86Vcpu) vm.vcpu(0);
    }

    X86Vcpu vcpu(int i) {
        return (X86Vcpu) vm.vcpu(i);
    }

    long toleranceNanos() {
        return provider.timing().tolerance().toNanos();
    }

    /** Little-endian view of the 64-byte structure at {@code gpa}. */
    ByteBuffer struct(long gpa) {
        return vm.memory().liveView(gpa, 64).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Steal read with the guest's version protocol. */
    long steal(long gpa) {
        ByteBuffer b = struct(gpa);
        while (true) {
            int v = b.getInt(8);
            long s = b.getLong(0);
            if ((v & 1) == 0 && v == b.getInt(8)) {
                return s;
            }
            Thread.onSpinWait();
        }
    }

    int version(long gpa) {
        return struct(gpa).getInt(8);
    }

    /** Zeroes the structure and registers it on {@code v}. */
    void register(X86Vcpu v, long gpa) {
        vm.memory().write(gpa, new byte[64]);
        assertThat(v.guestWrmsr(MSR, gpa | 1).faulted()).as("WRMSR 0x%x", gpa | 1).isFalse();
    }
}
