package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.runner.HostRequirement;
import org.testng.annotations.AfterClass;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An emulated-machine provider end to end (one instance per {@link Guest}, see {@link #both}), where
 * its host packages are installed (skipped, saying which are missing, elsewhere): it boots the
 * emulated machine and speaks to the C adapter; when the machine dies under it, the call in
 * progress fails and the next VM comes from a fresh machine; shutting down leaves no QEMU and no
 * temporary file.
 */
public class EmulatedKvmProviderTest {

    private static final int SMCCC_VERSION = 0x80000000;

    private final Guest guest;
    private EmulatedKvmProvider provider;

    @org.testng.annotations.Factory(dataProvider = "guests")
    public EmulatedKvmProviderTest(Guest guest) {
        this.guest = guest;
    }

    @org.testng.annotations.DataProvider
    public static Object[][] guests() {
        for (Guest g : Guest.values()) {                 // every instance's reason, see noteIfMissing
            HostRequirement.noteIfMissing(g.providerId, "the " + g.providerId + " provider");
        }
        return new Object[][]{{Guest.ARM64}, {Guest.X86_64}};
    }

    @BeforeClass
    public void boot() {
        HostRequirement.requireOrSkip(guest.providerId, "the " + guest.providerId + " provider");
        provider = new EmulatedKvmProvider(guest);
        provider.prepare();
        Availability a = provider.availability();
        assertThat(a.available()).as("%s availability (%s)", guest.providerId, a.reason()).isTrue();
    }

    /** One guest entry that real KVM answers: SMCCC_VERSION (arm64), CPUID's KVM signature leaf (x86). */
    private void assertRealKvmAnswers(dev.stealtime.tck.spi.Vcpu v) {
        if (guest == Guest.ARM64) {
            long version = ((Arm64Vcpu) v).smccc(SMCCC_VERSION);
            assertThat(version).as("SMCCC_VERSION from vCPU %d (1.1 or later: PSCI 0.2 was asked for)", v.index())
                    .isGreaterThanOrEqualTo(0x10001L).isLessThan(0x20000L);
        } else {
            dev.stealtime.tck.spi.CpuidResult r = ((dev.stealtime.tck.spi.X86Vcpu) v).cpuid(0x40000000);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putInt(r.ebx()).putInt(r.ecx()).putInt(r.edx());
            assertThat(new String(b.array(), java.nio.charset.StandardCharsets.US_ASCII))
                    .as("CPUID 0x40000000 signature from vCPU %d", v.index()).isEqualTo("KVMKVMKVM\0\0\0");
        }
    }

    @AfterClass(alwaysRun = true)
    public void stop() {
        if (provider != null) {
            provider.shutdown();
        }
    }

    private VmSpec spec() {
        return GuestLayout.forProvider(provider).spec(guest.architecture, 2);
    }

    @Test
    public void describesTheEmulatedMachineBesideTheProvider() {
        assertThat(provider.machine()).containsKeys("emulator", "accelerator", "cpu", "kernel release", "kernel image",
                "kernel image sha256", "machine");
        assertThat(provider.machine().get("emulator")).startsWith("QEMU emulator version");
        assertThat(provider.machine().get("kernel image sha256")).matches("[0-9a-f]{64}");
        if (guest == Guest.X86_64) {
            assertThat(provider.machine()).containsKeys("module kvm.ko", "module irqbypass.ko");
            assertThat(provider.machine().get("kvm")).contains("kvm-amd");
        }
        assertThat(provider.version()).contains("KVM API 12").contains(provider.machine().get("emulator"));
    }

    /** The summary names the accelerator and why: the one this host's probe chose, or TCG after KVM failed to start. */
    @Test
    public void saysWhichAcceleratorAndWhy() {
        String used = provider.machine().get("accelerator");
        Guest.Accelerator chosen = guest.accelerator();
        if (chosen.fallsBack() && used.startsWith("tcg")) {
            assertThat(used).contains("-accel kvm failed").contains("retried with TCG");
        } else {
            assertThat(used).isEqualTo(chosen.description());
        }
    }

    @Test
    public void realKvmAnswersTheGuest() {
        try (Vm vm = provider.open(spec())) {
            for (var v : vm.vcpus()) {
                assertRealKvmAnswers(v);
            }
        }
    }

    @Test(dependsOnMethods = {"describesTheEmulatedMachineBesideTheProvider", "realKvmAnswersTheGuest"})
    public void aMachineThatDiesIsReplacedForTheNextVmAndShutdownLeavesNothing() {
        EmulatedMachine first = provider.currentMachine();
        int booted = provider.machinesBooted();
        try (Vm vm = provider.open(spec())) {
            first.stop();                                  // the emulated machine dies under the VM
            assertThatThrownBy(() -> assertRealKvmAnswers(vm.vcpu(0)))
                    .as("a call to a dead adapter fails (it does not hang)").isInstanceOf(RuntimeException.class);
        } catch (RuntimeException closing) {
            // closing a VM of a dead adapter may fail too: the session has ended
        }
        try (Vm vm = provider.open(spec())) {
            assertRealKvmAnswers(vm.vcpu(1));
        }
        // at least the replacement; one more when a slow machine missed the 3 s `open` bound under load and
        // was replaced too (seen in a CI at 2 CPUs: 3 instead of 2)
        assertThat(provider.machinesBooted()).as("machines booted").isGreaterThanOrEqualTo(booted + 1);
        assertThat(first.alive()).isFalse();

        EmulatedMachine second = provider.currentMachine();
        Path work = provider.workDir();
        provider.shutdown();
        assertThat(second.alive()).as("QEMU after shutdown").isFalse();
        assertThat(Files.exists(work)).as("%s after shutdown", work).isFalse();
    }
}
