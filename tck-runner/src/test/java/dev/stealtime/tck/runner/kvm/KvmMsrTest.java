package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** MSR_KVM_STEAL_TIME from the guest (real WRMSR/RDMSR) and from the VMM (KVM_SET/GET_MSRS). */
public class KvmMsrTest extends KvmTestSupport {

    @Test
    public void guestWrmsrOfAnAlignedAddressIsAcceptedAndReadBack() {
        X86Vcpu v = open(1, true);
        assertThat(v.guestWrmsr(MSR, GPA | 1).faulted()).isFalse();
        assertThat(v.guestRdmsr(MSR).faulted()).isFalse();
        assertThat(v.guestRdmsr(MSR).value()).isEqualTo(GPA | 1);
        assertThat(v.guestWrmsr(MSR, GPA).faulted()).isFalse();
        assertThat(v.guestRdmsr(MSR).value()).isEqualTo(GPA);
        assertThat(v.guestWrmsr(MSR, GuestLayout.HIGH_SLOT | 1).faulted()).isFalse();
        assertThat(v.guestRdmsr(MSR).value()).isEqualTo(GuestLayout.HIGH_SLOT | 1);
    }

    @Test
    public void everyReservedBitPatternMakesGuestWrmsrFaultAndHostSetFail() {
        X86Vcpu v = open(1, true);
        assertThat(v.guestWrmsr(MSR, GPA | 1).faulted()).isFalse();
        for (long bits = 1; bits < 32; bits++) {
            for (long enable = 0; enable < 2; enable++) {
                long value = GPA | (bits << 1) | enable;
                assertThat(v.guestWrmsr(MSR, value).faulted()).as("guest WRMSR 0x%x", value).isTrue();
                assertThat(v.hostSetMsr(MSR, value)).as("KVM_SET_MSRS 0x%x", value).isFalse();
            }
        }
        assertThat(v.guestRdmsr(MSR).value()).as("the last accepted value stays").isEqualTo(GPA | 1);
        assertThat(v.guestWrmsr(MSR, GPA).faulted()).as("the vCPU still works after 62 faults").isFalse();
    }

    @Test
    public void hostPathSetsAndGetsTheMsrAndTheGuestSeesIt() {
        X86Vcpu v = open(1, true);
        assertThat(v.hostSetMsr(MSR, GPA | 1)).isTrue();
        assertThat(v.hostGetMsr(MSR)).isEqualTo(GPA | 1);
        assertThat(v.guestRdmsr(MSR).value()).isEqualTo(GPA | 1);
        assertThat(v.guestWrmsr(MSR, GPA + 0x1000).faulted()).isFalse();
        assertThat(v.hostGetMsr(MSR)).isEqualTo(GPA + 0x1000);
    }

    @Test
    public void hostGetOfAnMsrKvmDoesNotKnowIsRefused() {
        X86Vcpu v = open(1, true);
        assertThatThrownBy(() -> v.hostGetMsr(0x4b564dff)).isInstanceOf(IllegalStateException.class);
        assertThat(v.guestRdmsr(0x4b564dff).faulted()).as("guest RDMSR of an unknown MSR").isTrue();
    }

    @Test
    public void withheldStealTimeFaultsForGuestAndHost() {
        X86Vcpu v = open(1, false);
        assertThat(v.guestWrmsr(MSR, GPA | 1).faulted()).isTrue();
        assertThat(v.guestRdmsr(MSR).faulted()).isTrue();
        assertThat(v.hostSetMsr(MSR, GPA | 1)).isFalse();
        assertThat(Arrays.equals(vm.memory().read(GPA, 64), new byte[64])).isTrue();
    }

    @Test
    public void theStructureIsFilledOnceEnabledAndTheVcpuRuns() {
        X86Vcpu v = open(1, true);
        byte[] canary = new byte[64];
        Arrays.fill(canary, (byte) 0xa5);
        vm.memory().write(GPA - 64, canary);
        vm.memory().write(GPA + 64, canary);
        register(v, GPA);
        v.run(Duration.ofMillis(2));
        ByteBuffer s = struct(GPA);
        assertThat(s.getInt(8)).as("version").isPositive().isEven();
        assertThat(s.getInt(12)).as("flags").isZero();
        assertThat(s.get(16)).as("preempted while running").isZero();
        int before = version(GPA);
        long stealBefore = steal(GPA);
        v.preempt(Duration.ofMillis(2));
        assertThat(version(GPA)).as("version after another entry").isGreaterThan(before);
        assertThat(steal(GPA)).isGreaterThan(stealBefore);
        assertThat(vm.memory().read(GPA - 64, 64)).as("bytes before the structure").isEqualTo(canary);
        assertThat(vm.memory().read(GPA + 64, 64)).as("bytes after the structure").isEqualTo(canary);
        assertThat(Arrays.equals(vm.memory().read(GPA + 20, 44), new byte[44])).as("padding").isTrue();
    }

    @Test
    public void aStructureInHighMemoryIsFilledToo() {
        X86Vcpu v = open(1, true);
        register(v, GuestLayout.HIGH_SLOT);
        v.run(Duration.ofMillis(2));
        assertThat(version(GuestLayout.HIGH_SLOT)).isPositive().isEven();
    }

    @Test
    public void addressesOutsideGuestRamAreAcceptedAndHarmless() {
        X86Vcpu v = open(1, true);
        byte[] lowBefore = vm.memory().read(GuestLayout.PROVIDER_RESERVED, (int) (GuestLayout.LOW.end() - GuestLayout.PROVIDER_RESERVED));
        for (long gpa : new long[] {GuestLayout.IN_HOLE, GuestLayout.BEYOND_RAM}) {
            assertThat(v.guestWrmsr(MSR, gpa | 1).faulted()).as("WRMSR 0x%x", gpa | 1).isFalse();
            v.run(Duration.ofMillis(2));
            v.preempt(Duration.ofMillis(1));
            assertThat(v.guestRdmsr(MSR).value()).isEqualTo(gpa | 1);
        }
        assertThat(vm.memory().read(GuestLayout.PROVIDER_RESERVED, lowBefore.length)).isEqualTo(lowBefore);
    }

    @Test
    public void disablingStopsUpdates() {
        X86Vcpu v = open(1, true);
        register(v, GPA);
        v.run(Duration.ofMillis(1));
        assertThat(v.guestWrmsr(MSR, GPA).faulted()).isFalse();
        byte[] frozen = vm.memory().read(GPA, 64);
        v.preempt(Duration.ofMillis(3));
        v.run(Duration.ofMillis(2));
        assertThat(vm.memory().read(GPA, 64)).isEqualTo(frozen);
    }
}
