package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.spi.X86Vcpu;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;

import static dev.stealtime.tck.spi.X86Vcpu.MSR_KVM_STEAL_TIME;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The x86 statements of RULES.md's "Facts" section, checked against the reference model. */
public class X86ReferenceFactsTest {

    private static final long GPA = 0x10000;
    private static final List<MemoryRegion> RAM = List.of(new MemoryRegion(0, 1 << 20));
    private Vm vm;

    private X86Vcpu vcpu(boolean offered) {
        vm = new ReferenceProvider().open(new VmSpec(Architecture.X86_64, 1, RAM, offered));
        return (X86Vcpu) vm.vcpu(0);
    }

    @AfterMethod(alwaysRun = true)
    public void close() {
        if (vm != null) {
            vm.close();
        }
    }

    private long steal() {
        return vm.memory().liveView(GPA, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private int version() {
        return vm.memory().liveView(GPA + 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    @Test
    public void msrIndexAndStructureOffsetsAreThoseOfTheAbi() {
        assertThat(MSR_KVM_STEAL_TIME).isEqualTo(0x4b564d03);
        assertThat(StealTimeMsr.RESERVED_BITS).isEqualTo(0x3E);
        assertThat(StealTimeMsr.ENABLE).isEqualTo(1);
        assertThat(List.of(StealTimeMsr.STEAL, StealTimeMsr.VERSION, StealTimeMsr.FLAGS, StealTimeMsr.PREEMPTED, StealTimeMsr.SIZE))
                .containsExactly(0, 8, 12, 16, 64);
    }

    @Test
    public void cpuidFeatureLeafAdvertisesStealTimeInEaxBit5ExactlyWhenOffered() {
        assertThat(vcpu(true).cpuid(0x40000001).eax() & (1 << 5)).isNotZero();
        close();
        assertThat(vcpu(false).cpuid(0x40000001).eax() & (1 << 5)).isZero();
    }

    @Test
    public void withheldFeatureFaultsBeforeAnyOtherCheck() {
        X86Vcpu v = vcpu(false);
        assertThat(v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1).faulted()).isTrue();
        assertThat(v.guestRdmsr(MSR_KVM_STEAL_TIME).faulted()).isTrue();
        assertThat(v.hostSetMsr(MSR_KVM_STEAL_TIME, GPA | 1)).isFalse();
    }

    @Test
    public void everyReservedBitPatternIsRejectedByGuestAndHostAndChangesNothing() {
        X86Vcpu v = vcpu(true);
        assertThat(v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA).faulted()).isFalse();
        for (long bits = 1; bits < 32; bits++) {
            for (long enable = 0; enable < 2; enable++) {
                long value = GPA | (bits << 1) | enable;
                assertThat(v.guestWrmsr(MSR_KVM_STEAL_TIME, value).faulted()).as("guest WRMSR 0x%x", value).isTrue();
                assertThat(v.hostSetMsr(MSR_KVM_STEAL_TIME, value)).as("KVM_SET_MSRS 0x%x", value).isFalse();
            }
        }
        assertThat(v.guestRdmsr(MSR_KVM_STEAL_TIME).value()).isEqualTo(GPA);
    }

    @Test
    public void addressOutsideGuestRamIsAcceptedAndNeverWritten() {
        X86Vcpu v = vcpu(true);
        long beyond = 64L << 30;
        assertThat(v.guestWrmsr(MSR_KVM_STEAL_TIME, beyond | 1).faulted()).isFalse();
        v.preempt(Duration.ofMillis(5));
        v.run(Duration.ofMillis(1));
        assertThat(v.guestRdmsr(MSR_KVM_STEAL_TIME).value()).isEqualTo(beyond | 1);
        assertThat(vm.memory().read(0, 1 << 20)).containsOnly(0);
    }

    @Test
    public void updateFixesAnOddVersionThenLeavesItEvenAndAdvanced() {
        X86Vcpu v = vcpu(true);
        vm.memory().write(GPA + 8, new byte[]{7, 0, 0, 0});
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        int after = version();
        assertThat(after % 2).isZero();
        assertThat(after).isGreaterThan(7);
        v.run(Duration.ofMillis(1));
        assertThat(version()).isEqualTo(after + 2);
    }

    @Test
    public void stealIsAccumulatedFromGuestMemoryAndLastStealIsNeverReset() {
        X86Vcpu v = vcpu(true);
        v.preempt(Duration.ofMillis(3));                 // run delay before the MSR is ever written
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        assertThat(steal()).as("the first update adds all run delay since the vCPU started").isEqualTo(3_000_000);
        vm.memory().write(GPA, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1_000_000_000L).array());
        v.preempt(Duration.ofMillis(2));
        v.run(Duration.ofMillis(1));
        assertThat(steal()).as("accumulator read back from guest memory").isEqualTo(1_002_000_000L);
        assertThat(v.hostStealMeasureNanos()).isEqualTo(5_000_000);
    }

    @Test
    public void disablingStopsUpdatesAndRunDelayMeanwhileIsAddedOnReEnable() {
        X86Vcpu v = vcpu(true);
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA);
        byte[] frozen = vm.memory().read(GPA, 64);
        v.preempt(Duration.ofMillis(4));
        v.run(Duration.ofMillis(1));
        assertThat(vm.memory().read(GPA, 64)).isEqualTo(frozen);
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        assertThat(steal()).isEqualTo(4_000_000);
    }

    @Test
    public void idleAddsNoStealAndPreemptAddsExactlyTheDuration() {
        X86Vcpu v = vcpu(true);
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        long s0 = steal();
        v.idle(Duration.ofMillis(50));
        assertThat(steal()).isEqualTo(s0);
        v.preempt(Duration.ofNanos(1234567));
        v.run(Duration.ofMillis(1));
        assertThat(steal() - s0).isEqualTo(1234567);
    }

    @Test
    public void preemptedIsSetWhileOffTheCpuAndClearedOnEntry() {
        X86Vcpu v = vcpu(true);
        v.guestWrmsr(MSR_KVM_STEAL_TIME, GPA | 1);
        v.preempt(Duration.ofMillis(1));
        assertThat(vm.memory().read(GPA + 16, 1)[0]).isEqualTo((byte) 1);
        v.run(Duration.ofMillis(1));
        assertThat(vm.memory().read(GPA + 16, 1)[0]).isEqualTo((byte) 0);
    }

    @Test
    public void hostPathReadsBackTheValueAndRejectsOtherMsrs() {
        X86Vcpu v = vcpu(true);
        assertThat(v.hostSetMsr(MSR_KVM_STEAL_TIME, GPA | 1)).isTrue();
        assertThat(v.hostGetMsr(MSR_KVM_STEAL_TIME)).isEqualTo(GPA | 1);
        assertThat(v.hostSetMsr(0x4b564d04, 0)).isFalse();
        assertThatThrownBy(() -> v.hostGetMsr(0x4b564d04)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    public void guestMemoryRejectsRangesOutsideRam() {
        vcpu(true);
        assertThatThrownBy(() -> vm.memory().read((1 << 20) - 8, 16)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(vm.memory().liveView(GPA, 64).isDirect()).isTrue();
    }
}
