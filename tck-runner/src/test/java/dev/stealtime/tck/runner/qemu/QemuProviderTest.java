package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.SkipException;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Boots the test guest under QEMU with KVM and checks real things: the steal-time CPUID bit, a
 * registration, steal growing under preempt, withholding, and that closing leaves no QEMU behind.
 * On this host's /dev/kvm where usable, else inside an emulated machine (as the provider chooses).
 * Skipped, with the reason, where this host lacks a piece (QEMU, qboot, gcc, and a usable /dev/kvm or
 * the emulated machine's packages); with every piece here, a QEMU that does not boot the guest fails.
 */
public class QemuProviderTest {

    private static final long KVM_FEATURE_STEAL_TIME = 1 << 5;

    private static QemuProvider provider;

    private static synchronized QemuProvider bootable() {
        if (provider == null) {
            provider = new QemuProvider();
            provider.prepare();
        }
        String missing = QemuProvider.problem();
        if (missing != null) {                       // a piece this host lacks: skipped, saying which
            throw new SkipException("qemu provider unavailable here: " + missing);
        }
        Availability a = provider.availability();    // every piece is here: a QEMU that does not boot is a failure
        if (!a.available()) {
            throw new AssertionError("the qemu provider has every host piece (QEMU, qboot, gcc, and /dev/kvm or the emulated machine's) but is unavailable: "
                    + a.reason());
        }
        return provider;
    }

    /**
     * {@code qemu}, or {@code vmm:qemu}: the shipped QEMU recipe on this host's /dev/kvm (skipped
     * without one, or without QEMU; with both, a recipe that does not boot the guest fails).
     */
    private static HypervisorProvider bootable(String id) {
        if (id.equals("qemu")) {
            return bootable();
        }
        RecipeProvider r = RecipeProvider.of(id);
        String missing = r.problem();
        if (missing != null) {
            throw new SkipException(id + " unavailable here: " + missing);
        }
        r.prepare();
        Availability a = r.availability();
        if (!a.available()) {
            throw new AssertionError(id + " has every host piece (its VMM, gcc, /dev/kvm) but is unavailable: " + a.reason());
        }
        return r;
    }

    @DataProvider
    public Object[][] qemuAndItsRecipe() {
        return new Object[][]{{"qemu"}, {"vmm:qemu"}};
    }

    private static VmSpec spec(HypervisorProvider p, int vcpus) {
        return GuestLayout.forProvider(p).spec(Architecture.X86_64, vcpus);
    }

    @Test
    public void isFoundThroughServiceLoaderWithItsLayoutBase() {
        assertThat(ServiceLoader.load(HypervisorProvider.class).stream().map(ServiceLoader.Provider::type))
                .contains(QemuProvider.class);
        QemuProvider p = new QemuProvider();
        assertThat(GuestLayout.forProvider(p).slot(0)).as("slot 0 at layout base 2 MiB").isEqualTo(0x210000L);
        assertThat(GuestLayout.forProvider(p).lowEdge()).isEqualTo(0x300000L - 64);
    }

    @Test(dataProvider = "qemuAndItsRecipe")
    public void offersStealTimeAndStealGrowsWhileTheVcpuThreadIsPreempted(String id) {
        HypervisorProvider p = bootable(id);
        QemuProcess qemu;
        try (QemuVm vm = (QemuVm) p.open(spec(p, 1))) {
            qemu = vm.process();
            X86Vcpu cpu = (X86Vcpu) vm.vcpu(0);
            CpuidResult leaf = cpu.cpuid(0x40000001);
            assertThat(leaf.eax() & KVM_FEATURE_STEAL_TIME).as("CPUID 0x40000001 EAX 0x%x: KVM_FEATURE_STEAL_TIME (bit 5)", leaf.eax())
                    .isNotZero();

            long gpa = GuestLayout.forProvider(p).slot(1);
            vm.memory().write(gpa, new byte[64]);
            MsrResult w = cpu.guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, gpa | 1);
            assertThat(w.faulted()).as("guest WRMSR(MSR_KVM_STEAL_TIME, 0x%x) must not #GP", gpa | 1).isFalse();
            assertThat(cpu.guestRdmsr(X86Vcpu.MSR_KVM_STEAL_TIME).value()).as("RDMSR reads back the registration").isEqualTo(gpa | 1);
            cpu.run(Duration.ofMillis(1));
            long steal0 = steal(vm, gpa);
            long host0 = cpu.hostStealMeasureNanos();
            Duration hold = Duration.ofMillis(100);
            cpu.preempt(hold);
            cpu.run(Duration.ofMillis(1));
            long steal1 = steal(vm, gpa);
            long host1 = cpu.hostStealMeasureNanos();
            assertThat(host1 - host0).as("run_delay of QEMU's vCPU thread across preempt(%s)", hold)
                    .isGreaterThanOrEqualTo(hold.toNanos() - p.timing().tolerance().toNanos());
            assertThat(steal1 - steal0).as("steal KVM published at 0x%x across preempt(%s) (host measured %d ns)", gpa, hold, host1 - host0)
                    .isGreaterThanOrEqualTo(hold.toNanos() - p.timing().tolerance().toNanos());
        }
        assertThat(qemu.alive()).as("%s still running after close()", qemu.name()).isFalse();
    }

    @Test
    public void withheldStealTimeHidesTheBitAndTheMsrFaults() {
        QemuProvider p = bootable();
        try (QemuVm vm = (QemuVm) p.open(spec(p, 1).withStealTimeOffered(false))) {
            X86Vcpu cpu = (X86Vcpu) vm.vcpu(0);
            assertThat(cpu.cpuid(0x40000001).eax() & KVM_FEATURE_STEAL_TIME).as("steal-time bit with kvm-steal-time=off").isZero();
            long gpa = GuestLayout.forProvider(p).slot(1);
            assertThat(cpu.guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, gpa | 1).faulted())
                    .as("WRMSR with steal time withheld and kvm-pv-enforce-cpuid=on must #GP").isTrue();
        }
    }

    @Test
    public void aStructureAbove4GibInItsPcDimmIsUpdated() {
        QemuProvider p = bootable();
        VmSpec spec = spec(p, 1);
        assertThat(spec.inRam(GuestLayout.HIGH_SLOT, 64)).as("HIGH_MEMORY declared: %s in %s", GuestLayout.HIGH_SLOT, spec.ram()).isTrue();
        try (QemuVm vm = (QemuVm) p.open(spec)) {
            X86Vcpu cpu = (X86Vcpu) vm.vcpu(0);
            vm.memory().write(GuestLayout.HIGH_SLOT, new byte[64]);
            assertThat(cpu.guestWrmsr(X86Vcpu.MSR_KVM_STEAL_TIME, GuestLayout.HIGH_SLOT | 1).faulted()).isFalse();
            cpu.preempt(Duration.ofMillis(20));
            cpu.run(Duration.ofMillis(1));
            byte[] version = vm.memory().read(GuestLayout.HIGH_SLOT + 8, 4);
            assertThat(ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).getInt())
                    .as("version at 0x%x (4 GiB + 0x1000, the pc-dimm) after registering and running", GuestLayout.HIGH_SLOT + 8)
                    .isPositive();
        }
    }

    /**
     * A guest that does not answer in time (vCPU 0 busy for 12 s on a request that should take none):
     * the failure says QEMU runs, its run state, and that vCPU 0's thread was on its CPU.
     */
    @Test
    public void aGuestThatDoesNotAnswerIsDescribed() {
        QemuProvider p = bootable();
        try (QemuVm vm = (QemuVm) p.open(spec(p, 1))) {
            assertThatThrownBy(() -> vm.ask(0, "run 12000000000", Duration.ZERO))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not send the answer to '@0 run 12000000000' in time")
                    .hasMessageContaining("QEMU runs, QMP query-status: ")
                    .hasMessageContaining("\"status\": \"running\"")
                    .hasMessageMatching("(?s).*vCPU 0 \\(thread \\d+, pinned to CPU \\d+\\): state R, [\\d,]+ µs on the CPU.*");
        }
    }

    private static long steal(QemuVm vm, long gpa) {
        return ByteBuffer.wrap(vm.memory().read(gpa, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
