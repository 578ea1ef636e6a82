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
        assertThat(provider.description()).isEqualTo("Linux KVM through /dev/kvm");
        assertThat(provider.version()).matches("\\S+ KVM API 12");
        assertThat(provider.architectures()).containsExactly(Architecture.X86_64);
        assertThat(provider.capabilities()).containsExactlyInAnyOrder(Capability.values());
        assertThat(provider.timing().isExact()).isFalse();
        assertThat(provider.timing().tolerance()).isPositive();
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
        assertThatThrownBy(() -> provider.open(noLow)).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("0x10000");
    }

    @Test
    public void guestCodeImageHasTheGpHandlerInVector13() {
        ByteBuffer img = ByteBuffer.wrap(GuestCode.image()).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(img.getShort(0x34) & 0xffff).isEqualTo(GuestCode.GP_HANDLER);   // offset
        assertThat(img.getShort(0x36)).isZero();                                   // segment
        assertThat(img.get(GuestCode.GP_HANDLER) & 0xff).isEqualTo(0xe6);          // out imm8, al
        assertThat(img.get(GuestCode.GP_HANDLER + 1)).isEqualTo((byte) GuestCode.PORT_GP);
        assertThat(img.array()).hasSize(0x10000);
    }

    @Test
    public void cpuidShowsTheKvmSignatureAndTheStealTimeBitExactlyWhenOffered() {
        var sig = open(1, true).cpuid(Cpuid.KVM_SIGNATURE_LEAF);
        ByteBuffer name = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(sig.ebx()).putInt(sig.ecx()).putInt(sig.edx());
        assertThat(new String(name.array(), 0, 9)).isEqualTo("KVMKVMKVM");
        assertThat(sig.eax()).isGreaterThanOrEqualTo(Cpuid.KVM_FEATURES_LEAF);
        assertThat(vcpu(0).cpuid(Cpuid.KVM_FEATURES_LEAF).eax() & Cpuid.KVM_FEATURE_STEAL_TIME).isNotZero();
        closeVm();
        assertThat(open(1, false).cpuid(Cpuid.KVM_FEATURES_LEAF).eax() & Cpuid.KVM_FEATURE_STEAL_TIME).isZero();
    }
}
