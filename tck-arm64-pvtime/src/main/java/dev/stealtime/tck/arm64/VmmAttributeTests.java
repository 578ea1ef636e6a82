package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.support.Errno;
import dev.stealtime.tck.support.Evidence;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatAttr;
import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatCall;
import static dev.stealtime.tck.arm64.PvTime.NO_IPA;
import static dev.stealtime.tck.rules.Level.LINUX_ABI_GROUP;
import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static dev.stealtime.tck.support.GuestLayout.BEYOND_RAM;
import static dev.stealtime.tck.support.GuestLayout.HIGH;
import static dev.stealtime.tck.support.GuestLayout.HIGH_SLOT;
import static dev.stealtime.tck.support.GuestLayout.IN_HOLE;
import static dev.stealtime.tck.support.GuestLayout.LOW;
import static dev.stealtime.tck.support.GuestLayout.LOW_EDGE;
import static dev.stealtime.tck.support.GuestLayout.MID;
import static dev.stealtime.tck.support.GuestLayout.low;

/**
 * The VMM side: {@code KVM_HAS/SET/GET_DEVICE_ATTR} on a vCPU, group {@code KVM_ARM_VCPU_PVTIME_CTRL},
 * attribute {@code KVM_ARM_VCPU_PVTIME_IPA} (Documentation/virt/kvm/devices/vcpu.rst):
 * <pre>
 *   Returns: -ENXIO:  Stolen time not implemented
 *            -EEXIST: Base address already set for this VCPU
 *            -EINVAL: Base address not 64 byte aligned
 *   The base address must be 64 byte aligned and exist within a valid guest memory region.
 * </pre>
 * Linux checks, in order: unknown attribute → -ENXIO; misaligned → -EINVAL; already set → -EEXIST;
 * not in a memory slot → -EINVAL.
 */
public class VmmAttributeTests extends Arm64TckTest {

    /** Attribute ids of the PVTIME_CTRL group other than PVTIME_IPA (0), including ones that only differ above bit 31. */
    private static final long[] OTHER_ATTRIBUTES = {1, 2, 3, 0x7f, 0xff, 0x100, 1L << 32, 0x8000_0000L, Long.MAX_VALUE, -1L};

    // ---------------------------------------------------------------- ARM-HAS-ATTR

    @TckRule(RuleIds.ARM_HAS_ATTR)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_HAS_ATTR_zeroWhenStolenTimeIsImplemented() {
        PvTimeVm vm = openPvTimeVm(1);
        PvTimeVcpu vcpu = vm.vcpu(0);
        Evidence.step("HAS_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA) before an IPA is set: 0",
                () -> assertThatAttr(vcpu.has()).succeeded());
        vcpu.configure(low(0));
        Evidence.step("HAS_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA) after the IPA is set: still 0",
                () -> assertThatAttr(vcpu.has()).succeeded());
    }

    @TckRule(RuleIds.ARM_HAS_ATTR)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_HAS_ATTR_enxioWhenStolenTimeIsNotImplemented() {
        PvTimeVcpu vcpu = openVmWithoutPvTime(1).vcpu(0);
        Evidence.step("HAS_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA) without PV time: -ENXIO",
                () -> assertThatAttr(vcpu.has()).isErrno(Errno.ENXIO));
    }

    // ---------------------------------------------------------------- ARM-ENXIO-UNSUPPORTED

    @TckRule(RuleIds.ARM_ENXIO_UNSUPPORTED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ENXIO_UNSUPPORTED_setAndGetWithoutStolenTime() {
        PvTimeVcpu vcpu = openVmWithoutPvTime(1).vcpu(0);
        List<AttrCall> calls = new ArrayList<>();
        Evidence.step("SET_DEVICE_ATTR without PV time: valid, misaligned and outside-RAM IPAs all -ENXIO", () -> {
            for (long ipa : new long[]{low(0), low(0) + 1, BEYOND_RAM}) {
                calls.add(vcpu.set(ipa));
            }
        });
        calls.add(Evidence.step("GET_DEVICE_ATTR without PV time: -ENXIO", vcpu::get));
        table("errno table: PVTIME_IPA without PV time", calls);
        calls.forEach(c -> assertThatAttr(c).isErrno(Errno.ENXIO));
    }

    // ---------------------------------------------------------------- ARM-ENXIO-UNKNOWN-ATTR

    @TckRule(RuleIds.ARM_ENXIO_UNKNOWN_ATTR)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_ENXIO_UNKNOWN_ATTR_hasSetGetOfEveryOtherAttribute() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        List<AttrCall> calls = new ArrayList<>();
        Evidence.step("other attribute ids on a vCPU without an IPA: -ENXIO for has, set (any value) and get",
                () -> calls.addAll(otherAttributes(vcpu)));
        table("errno table: other PVTIME_CTRL attributes, IPA not set", calls);
        calls.forEach(c -> assertThatAttr(c).isErrno(Errno.ENXIO));

        Evidence.step("none of them set the IPA: setting it now succeeds", () -> vcpu.configure(low(0)));

        List<AttrCall> after = Evidence.step("other attribute ids once the IPA is set: still -ENXIO (not -EEXIST)",
                () -> otherAttributes(vcpu));
        table("errno table: other PVTIME_CTRL attributes, IPA set", after);
        after.forEach(c -> assertThatAttr(c).isErrno(Errno.ENXIO));
    }

    private static List<AttrCall> otherAttributes(PvTimeVcpu vcpu) {
        List<AttrCall> calls = new ArrayList<>();
        for (long attr : OTHER_ATTRIBUTES) {
            calls.add(vcpu.hasAttr(attr));
            calls.add(vcpu.setAttr(attr, low(1)));        // a value PVTIME_IPA would accept
            calls.add(vcpu.setAttr(attr, low(1) + 1));    // a value PVTIME_IPA would reject
            calls.add(vcpu.getAttr(attr));
        }
        return calls;
    }

    // ---------------------------------------------------------------- ARM-EINVAL-ALIGN

    @TckRule(RuleIds.ARM_EINVAL_ALIGN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EINVAL_ALIGN_everyMisalignmentAtLowIpas() {
        everyMisalignmentIsRejected(new long[]{low(0), LOW_EDGE}, low(0));
    }

    @TckRule(RuleIds.ARM_EINVAL_ALIGN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EINVAL_ALIGN_everyMisalignmentAtHighIpas() {
        require(Capability.HIGH_MEMORY);
        everyMisalignmentIsRejected(new long[]{HIGH_SLOT, HIGH.end() - 64}, HIGH_SLOT);
    }

    /** All 63 offsets from each aligned base → -EINVAL; afterwards nothing is set and {@code thenValid} is accepted. */
    private void everyMisalignmentIsRejected(long[] bases, long thenValid) {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        AttrCall before = vcpu.get();
        List<AttrCall> calls = new ArrayList<>();
        Evidence.step("SET_DEVICE_ATTR with every offset 1..63 from " + hexList(bases), () -> {
            for (long base : bases) {
                for (int offset = 1; offset < 64; offset++) {
                    calls.add(vcpu.set(base + offset));
                }
            }
        });
        table("errno table: misaligned IPAs", calls);
        // seed 002 (vcpu.txt): the base address "must ... exist within a valid guest memory region", but
        // the errno list names -EINVAL only for misalignment: any error is a rejection (Linux: -EINVAL)
        calls.forEach(c -> assertThatAttr(c).failed());
        Evidence.step("nothing was set: GET answers as before, and an aligned IPA is still accepted", () -> {
            assertThatAttr(vcpu.get()).as("after 63 x %d rejected sets", bases.length).returnedSameAs(before);
            assertThatAttr(vcpu.set(thenValid)).as("the first aligned set after the rejected ones").succeeded();
        });
    }

    // ---------------------------------------------------------------- ARM-EINVAL-OUTSIDE-MEMORY

    @TckRule(RuleIds.ARM_EINVAL_OUTSIDE_MEMORY)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EINVAL_OUTSIDE_MEMORY_alignedIpaInARamHole() {
        require(Capability.MEMORY_HOLES);
        outsideMemoryIsRejected(new long[]{IN_HOLE, LOW.end(), MID.gpa() - 64});
    }

    @TckRule(RuleIds.ARM_EINVAL_OUTSIDE_MEMORY)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EINVAL_OUTSIDE_MEMORY_alignedIpaBeyondRam() {
        List<MemoryRegion> ram = layout().regions();
        long end = ram.get(ram.size() - 1).end();
        outsideMemoryIsRejected(new long[]{end, end + 0x1000, BEYOND_RAM, 1L << 48, 0x7fff_ffff_ffff_ffc0L, -64L});
    }

    private void outsideMemoryIsRejected(long[] ipas) {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        AttrCall before = vcpu.get();
        List<AttrCall> calls = Evidence.step("SET_DEVICE_ATTR with aligned IPAs outside guest RAM " + layout().regions(), () -> {
            List<AttrCall> out = new ArrayList<>();
            for (long ipa : ipas) {
                out.add(vcpu.set(ipa));
            }
            return out;
        });
        table("errno table: aligned IPAs outside RAM " + layout().regions(), calls);
        // seed 002 (vcpu.txt): the base address "must ... exist within a valid guest memory region", but
        // the errno list names -EINVAL only for misalignment: any error is a rejection (Linux: -EINVAL)
        calls.forEach(c -> assertThatAttr(c).failed());
        Evidence.step("nothing was set: GET answers as before, and an IPA in RAM is still accepted", () -> {
            assertThatAttr(vcpu.get()).returnedSameAs(before);
            assertThatAttr(vcpu.set(low(0))).as("the first in-RAM set after the rejected ones").succeeded();
        });
    }

    @TckRule(RuleIds.ARM_EINVAL_OUTSIDE_MEMORY)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EINVAL_OUTSIDE_MEMORY_lastSixtyFourBytesOfEachRegionAreInside() {
        List<AttrCall> calls = new ArrayList<>();
        for (MemoryRegion region : layout().regions()) {
            long edge = region.end() - 64;
            Evidence.parameter("last 64 bytes of " + region, String.format("0x%x", edge));
            calls.add(Evidence.step(String.format("SET_DEVICE_ATTR(0x%x): the structure fits exactly at the end of %s", edge, region),
                    () -> openPvTimeVm(1).vcpu(0).set(edge)));
        }
        table("errno table: the last 64 bytes of each RAM region", calls);
        calls.forEach(c -> assertThatAttr(c).as("the 64 bytes lie inside guest RAM").succeeded());
    }

    // ---------------------------------------------------------------- ARM-EEXIST

    @TckRule(RuleIds.ARM_EEXIST)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_EEXIST_secondSetKeepsFirstIpa() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        Evidence.step("first set: 0x" + Long.toHexString(low(0)), () -> vcpu.configure(low(0)));
        List<AttrCall> calls = Evidence.step("second sets: another IPA, the same IPA again, the end of RAM", () -> {
            List<AttrCall> out = new ArrayList<>(List.of(vcpu.set(low(1)), vcpu.set(low(0)), vcpu.set(LOW_EDGE)));
            if (layout().hasHigh()) {
                out.add(vcpu.set(HIGH_SLOT));
            }
            return out;
        });
        table("errno table: second sets", calls);
        calls.forEach(c -> assertThatAttr(c).isErrno(Errno.EEXIST));
        Evidence.step("the first IPA is kept: PV_TIME_ST still answers it",
                () -> assertThatCall(vcpu.stolenTimeIpa()).as("after %d rejected second sets", calls.size()).returnsIpa(low(0)));
    }

    // ---------------------------------------------------------------- ARM-ERROR-PRECEDENCE

    @TckRule(RuleIds.ARM_ERROR_PRECEDENCE)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_ERROR_PRECEDENCE_misalignedOnAConfiguredVcpuIsEinvalNotEexist() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.configure(low(0));
        List<AttrCall> calls = Evidence.step("every misaligned IPA on a vCPU that already has one", () -> {
            List<AttrCall> out = new ArrayList<>();
            for (int offset = 1; offset < 64; offset++) {
                out.add(vcpu.set(low(1) + offset));
            }
            return out;
        });
        table("errno table: misaligned IPAs on a configured vCPU", calls);
        calls.forEach(c -> assertThatAttr(c).as("the alignment check comes before the already-set check").isErrno(Errno.EINVAL));
        assertThatAttr(vcpu.get()).as("the IPA is unchanged").returnedValue(low(0));
    }

    // ---------------------------------------------------------------- ARM-PER-VCPU-IPA

    @TckRule(RuleIds.ARM_PER_VCPU_IPA)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_PER_VCPU_IPA_settingOneVcpuLeavesTheOthersFree() {
        PvTimeVm vm = openPvTimeVm(3);
        Evidence.step("vCPU 0 gets its structure", () -> vm.vcpu(0).configure(low(0)));
        Evidence.step("vCPU 2, then vCPU 1 still accept theirs (not -EEXIST)", () -> {
            assertThatAttr(vm.vcpu(2).set(low(2))).as("vCPU 0 already has an IPA, vCPU 2 not yet").succeeded();
            assertThatAttr(vm.vcpu(1).set(low(1))).as("vCPUs 0 and 2 already have an IPA, vCPU 1 not yet").succeeded();
        });
    }

    // ---------------------------------------------------------------- ARM-GET-ATTR

    @TckRule(RuleIds.ARM_GET_ATTR)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_GET_ATTR_allOnesBeforeSetThenTheIpaThatWasSet() {
        List<Long> ipas = new ArrayList<>(List.of(low(3), low(3) + 64 * 5));
        if (layout().regions().contains(MID)) {
            ipas.add(MID.gpa());
        }
        if (layout().hasHigh()) {
            ipas.add(HIGH_SLOT);
        }
        List<AttrCall> calls = new ArrayList<>();
        for (long ipa : ipas) {
            PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
            AttrCall before = vcpu.get();
            vcpu.configure(ipa);
            AttrCall after = vcpu.get();
            calls.addAll(List.of(before, after));
            Evidence.step(String.format("IPA 0x%x: GET before set = all-ones, after set = the IPA", ipa), () -> {
                assertThatAttr(before).as("no IPA set yet (Linux: INVALID_GPA)").returnedValue(NO_IPA);
                assertThatAttr(after).returnedValue(ipa);
            });
        }
        table("GET_DEVICE_ATTR before and after set", calls);
    }

    // ---------------------------------------------------------------- ARM-IPA-PERMANENT

    @TckRule(RuleIds.ARM_IPA_PERMANENT)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_IPA_PERMANENT_cannotBeChangedOrUnset() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        AttrCall allOnesFirst = vcpu.set(NO_IPA);
        Evidence.step("all-ones is not an IPA: -EINVAL, before any IPA is set",
                () -> assertThatAttr(allOnesFirst).isErrno(Errno.EINVAL));
        vcpu.configure(low(0));
        AttrCall allOnes = vcpu.set(NO_IPA);
        List<AttrCall> others = List.of(vcpu.set(0), vcpu.set(low(4)), vcpu.set(-64L));
        table("attempts to change or unset the IPA", concat(List.of(allOnesFirst, allOnes), others));
        Evidence.step("all-ones does not unset it: -EINVAL", () -> assertThatAttr(allOnes).isErrno(Errno.EINVAL));
        Evidence.step("no other value replaces it (0, another IPA, the top of the address space)",
                () -> others.forEach(c -> assertThatAttr(c).failed()));
        Evidence.step("the IPA is still the first one: GET and PV_TIME_ST answer it", () -> {
            assertThatAttr(vcpu.get()).returnedValue(low(0));
            assertThatCall(vcpu.stolenTimeIpa()).returnsIpa(low(0));
        });
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    private static String hexList(long[] values) {
        StringBuilder sb = new StringBuilder();
        for (long v : values) {
            sb.append(sb.length() == 0 ? "" : ", ").append(String.format("0x%x", v));
        }
        return sb.toString();
    }
}
