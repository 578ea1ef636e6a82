package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.Errno;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.Test;

import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.NOT_SUPPORTED;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_FEATURES;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_ST;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.SMCCC_ARCH_FEATURES;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.SUCCESS;
import static dev.stealtime.tck.spi.Arm64Vcpu.PVTIME_CTRL;
import static dev.stealtime.tck.spi.Arm64Vcpu.PVTIME_IPA;
import static org.assertj.core.api.Assertions.assertThat;

/** The arm64 statements of RULES.md's "Facts" section, checked against the reference model. */
public class Arm64ReferenceFactsTest {

    private static final long IPA = 0x10000;
    private static final List<MemoryRegion> RAM = List.of(new MemoryRegion(0, 1 << 20), new MemoryRegion(2 << 20, 1 << 20));
    private Vm vm;

    private Arm64Vcpu vcpu(boolean offered, int vcpus, int index) {
        if (vm == null) {
            vm = new ReferenceProvider().open(new VmSpec(Architecture.ARM64, vcpus, RAM, offered));
        }
        return (Arm64Vcpu) vm.vcpu(index);
    }

    @AfterMethod(alwaysRun = true)
    public void close() {
        if (vm != null) {
            vm.close();
            vm = null;
        }
    }

    private long stolen(long ipa) {
        return vm.memory().liveView(ipa + 8, 8).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    @Test
    public void functionIdsAndReturnCodesAreThoseOfTheAbi() {
        assertThat(List.of(PV_TIME_FEATURES, PV_TIME_ST, SMCCC_ARCH_FEATURES))
                .containsExactly(0xC5000020, 0xC5000021, 0x80000001);
        assertThat(List.of(SUCCESS, NOT_SUPPORTED)).containsExactly(0L, -1L);
        assertThat(List.of(PVTIME_CTRL, (int) PVTIME_IPA)).containsExactly(2, 0);
        assertThat(List.of(StolenTime.REVISION, StolenTime.ATTRIBUTES, StolenTime.STOLEN_TIME, StolenTime.SIZE))
                .containsExactly(0, 4, 8, 64);
    }

    @Test
    public void setChecksInLinuxOrder() {
        Arm64Vcpu v = vcpu(true, 1, 0);
        assertThat(v.setDeviceAttr(PVTIME_CTRL, 1, IPA)).as("unknown attr").isEqualTo(Errno.ENXIO.negative());
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, 0x180000 + 1)).as("misaligned and outside RAM").isEqualTo(Errno.EINVAL.negative());
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, 0x180000)).as("aligned, in the hole").isEqualTo(Errno.EINVAL.negative());
        assertThat(v.getDeviceAttr(PVTIME_CTRL, PVTIME_IPA).value()).as("nothing set").isEqualTo(-1L);
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA)).isZero();
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA + 8)).as("misaligned beats already-set").isEqualTo(Errno.EINVAL.negative());
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, 0x20000)).as("already set").isEqualTo(Errno.EEXIST.negative());
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, -1L)).as("all-ones cannot unset").isEqualTo(Errno.EINVAL.negative());
        assertThat(v.getDeviceAttr(PVTIME_CTRL, PVTIME_IPA)).isEqualTo(new Arm64Vcpu.AttrResult(0, IPA));
        assertThat(v.hasDeviceAttr(PVTIME_CTRL, PVTIME_IPA)).isZero();
        assertThat(v.hasDeviceAttr(PVTIME_CTRL, 7)).isEqualTo(Errno.ENXIO.negative());
    }

    @Test
    public void withoutPvTimeEverythingIsEnxioOrNotSupported() {
        Arm64Vcpu v = vcpu(false, 1, 0);
        assertThat(v.hasDeviceAttr(PVTIME_CTRL, PVTIME_IPA)).isEqualTo(Errno.ENXIO.negative());
        assertThat(v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA)).isEqualTo(Errno.ENXIO.negative());
        assertThat(v.getDeviceAttr(PVTIME_CTRL, PVTIME_IPA).errno()).isEqualTo(Errno.ENXIO.negative());
        assertThat(v.smccc(SMCCC_ARCH_FEATURES, PV_TIME_FEATURES)).isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(PV_TIME_FEATURES, PV_TIME_ST)).isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(PV_TIME_ST)).isEqualTo(NOT_SUPPORTED);
    }

    @Test
    public void featuresSucceedOnlyOnceTheIpaIsSetButArchFeaturesWhenOffered() {
        Arm64Vcpu v = vcpu(true, 1, 0);
        assertThat(v.smccc(SMCCC_ARCH_FEATURES, PV_TIME_FEATURES)).isEqualTo(SUCCESS);
        assertThat(v.smccc(PV_TIME_FEATURES, PV_TIME_ST)).isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(PV_TIME_FEATURES, PV_TIME_FEATURES)).isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(PV_TIME_ST)).isEqualTo(NOT_SUPPORTED);
        v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA);
        assertThat(v.smccc(PV_TIME_FEATURES, PV_TIME_ST)).isEqualTo(SUCCESS);
        assertThat(v.smccc(PV_TIME_FEATURES, PV_TIME_FEATURES)).isEqualTo(SUCCESS);
        assertThat(v.smccc(PV_TIME_FEATURES, 0xC5000022)).isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(0x85000020, PV_TIME_ST)).as("SMC32 form").isEqualTo(NOT_SUPPORTED);
        assertThat(v.smccc(0x85000021)).as("SMC32 form").isEqualTo(NOT_SUPPORTED);
    }

    @Test
    public void pvTimeStZeroesTheStructureAndRestartsCounting() {
        Arm64Vcpu v = vcpu(true, 1, 0);
        byte[] junk = new byte[64];
        Arrays.fill(junk, (byte) 0x5a);
        vm.memory().write(IPA, junk);
        v.preempt(Duration.ofMillis(7));
        v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA);
        assertThat(v.smccc(PV_TIME_ST)).isEqualTo(IPA);
        assertThat(vm.memory().read(IPA, 64)).containsOnly(0);
        v.preempt(Duration.ofMillis(2));
        v.run(Duration.ofMillis(1));
        assertThat(stolen(IPA)).isEqualTo(2_000_000);
    }

    @Test
    public void updatesAccumulateFromGuestMemoryEvenBeforePvTimeStAndAreSingleStores() {
        Arm64Vcpu v = vcpu(true, 1, 0);
        v.preempt(Duration.ofMillis(3));
        v.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA);
        v.run(Duration.ofMillis(1));
        assertThat(stolen(IPA)).as("first update adds all earlier run delay").isEqualTo(3_000_000);
        v.idle(Duration.ofMillis(9));
        assertThat(stolen(IPA)).isEqualTo(3_000_000);
    }

    @Test
    public void pvTimeStReturnsTheCallersOwnIpa() {
        Arm64Vcpu v0 = vcpu(true, 2, 0);
        Arm64Vcpu v1 = vcpu(true, 2, 1);
        assertThat(v0.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA)).isZero();
        assertThat(v1.setDeviceAttr(PVTIME_CTRL, PVTIME_IPA, IPA + 64)).isZero();
        assertThat(v0.smccc(PV_TIME_ST)).isEqualTo(IPA);
        assertThat(v1.smccc(PV_TIME_ST)).isEqualTo(IPA + 64);
    }
}
