package dev.stealtime.tck.runner.kvmarm64;

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
 * The kvm-arm64 provider end to end, where its host packages are installed (skipped, saying which
 * are missing, elsewhere): it boots the emulated machine and speaks to the C adapter; when the
 * machine dies under it, the call in progress fails and the next VM comes from a fresh machine;
 * shutting down leaves no QEMU and no temporary file.
 */
public class KvmArm64ProviderTest {

    private static final int SMCCC_VERSION = 0x80000000;

    private KvmArm64Provider provider;

    @BeforeClass
    public void boot() {
        HostRequirement.requireOrSkip(KvmArm64Provider.ID, "the kvm-arm64 provider");
        provider = new KvmArm64Provider();
        provider.prepare();
        Availability a = provider.availability();
        assertThat(a.available()).as("kvm-arm64 availability (%s)", a.reason()).isTrue();
    }

    @AfterClass(alwaysRun = true)
    public void stop() {
        if (provider != null) {
            provider.shutdown();
        }
    }

    private VmSpec spec() {
        return GuestLayout.forProvider(provider).spec(Architecture.ARM64, 2);
    }

    @Test
    public void describesTheEmulatedMachineBesideTheProvider() {
        assertThat(provider.machine()).containsKeys("emulator", "cpu", "guest kernel", "machine");
        assertThat(provider.machine().get("emulator")).startsWith("QEMU emulator version");
        assertThat(provider.version()).contains("KVM API 12").contains(provider.machine().get("emulator"));
    }

    @Test
    public void realKvmArm64AnswersTheGuestsSmcccCalls() {
        try (Vm vm = provider.open(spec())) {
            for (var v : vm.vcpus()) {
                long version = ((Arm64Vcpu) v).smccc(SMCCC_VERSION);
                assertThat(version).as("SMCCC_VERSION from vCPU %d (1.1 or later: PSCI 0.2 was asked for)", v.index())
                        .isGreaterThanOrEqualTo(0x10001L).isLessThan(0x20000L);
            }
        }
    }

    @Test(dependsOnMethods = {"describesTheEmulatedMachineBesideTheProvider", "realKvmArm64AnswersTheGuestsSmcccCalls"})
    public void aMachineThatDiesIsReplacedForTheNextVmAndShutdownLeavesNothing() {
        EmulatedMachine first = provider.currentMachine();
        int booted = provider.machinesBooted();
        try (Vm vm = provider.open(spec())) {
            first.stop();                                  // the emulated machine dies under the VM
            assertThatThrownBy(() -> ((Arm64Vcpu) vm.vcpu(0)).smccc(SMCCC_VERSION))
                    .as("a call to a dead adapter fails (it does not hang)").isInstanceOf(RuntimeException.class);
        } catch (RuntimeException closing) {
            // closing a VM of a dead adapter may fail too: the session has ended
        }
        try (Vm vm = provider.open(spec())) {
            assertThat(((Arm64Vcpu) vm.vcpu(1)).smccc(SMCCC_VERSION)).isGreaterThanOrEqualTo(0x10001L);
        }
        assertThat(provider.machinesBooted()).as("machines booted").isEqualTo(booted + 1);
        assertThat(first.alive()).isFalse();

        EmulatedMachine second = provider.currentMachine();
        Path work = provider.workDir();
        provider.shutdown();
        assertThat(second.alive()).as("QEMU after shutdown").isFalse();
        assertThat(Files.exists(work)).as("%s after shutdown", work).isFalse();
    }
}
