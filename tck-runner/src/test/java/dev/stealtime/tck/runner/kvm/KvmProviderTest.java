package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.ServiceLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Identity, registration, declared abilities, and what open() refuses. */
public class KvmProviderTest extends KvmTestSupport {

    @Test
    public void describesItselfAsLinuxKvm() {
        assertThat(provider.id()).isEqualTo("kvm");
        assertThat(provider.description()).startsWith("Linux KVM through /dev/kvm");
        assertThat(provider.version()).matches("Linux \\S+ KVM API 12");
        assertThat(provider.architectures()).containsExactly(Architecture.X86_64);
        // every capability but a VMM's own save and restore: the C adapter is no VMM, and the adapter
        // protocol carries no saveAndRestore (the migration rules act as the VMM through HOST_MSR_ACCESS)
        assertThat(provider.capabilities()).containsExactlyInAnyOrderElementsOf(
                java.util.EnumSet.complementOf(java.util.EnumSet.of(Capability.VMM_SAVE_RESTORE, Capability.VMM_LIVE_MIGRATION, Capability.VCPU_HOTPLUG,
                Capability.GUEST_DEVICE_TREE)));
        assertThat(provider.timing().isExact()).isFalse();
        assertThat(provider.timing().tolerance()).isEqualTo(KvmProvider.TOLERANCE);
    }

    @Test
    public void isFoundThroughServiceLoader() {
        assertThat(ServiceLoader.load(HypervisorProvider.class).stream().map(ServiceLoader.Provider::type))
                .contains(KvmProvider.class);
    }

    @Test
    public void refusesArm64Guests() {
        VmSpec arm = new VmSpec(Architecture.ARM64, 1, List.of(new MemoryRegion(0, 1 << 20)), true);
        assertThatThrownBy(() -> provider.open(arm)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    public void refusesLayoutsWithoutRoomForItsGuestCode() {
        VmSpec noLow = new VmSpec(Architecture.X86_64, 1, List.of(new MemoryRegion(1 << 20, 1 << 20)), true);
        assertThatThrownBy(() -> provider.open(noLow)).isInstanceOf(RuntimeException.class);
    }

    @Test
    public void guestRamIsSharedWithTheTck() {
        open(1, true);
        assertThat(vm.memory().sharing()).isEqualTo(dev.stealtime.tck.spi.GuestMemory.Sharing.LIVE);
    }

    @Test
    public void cpuidShowsTheKvmSignatureAndTheStealTimeBitExactlyWhenOffered() {
        var sig = open(1, true).cpuid(0x4000_0000);
        ByteBuffer name = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(sig.ebx()).putInt(sig.ecx()).putInt(sig.edx());
        assertThat(new String(name.array(), 0, 9)).isEqualTo("KVMKVMKVM");
        assertThat(sig.eax()).isGreaterThanOrEqualTo(0x4000_0001);
        assertThat(vcpu(0).cpuid(0x4000_0001).eax() & (1 << 5)).isNotZero();
        closeVm();
        assertThat(open(1, false).cpuid(0x4000_0001).eax() & (1 << 5)).isZero();
    }
}
