package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.support.Evidence;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatCall;
import static dev.stealtime.tck.arm64.PvTime.PV_TIME_FEATURES;
import static dev.stealtime.tck.arm64.PvTime.PV_TIME_FEATURES_SMC32;
import static dev.stealtime.tck.arm64.PvTime.PV_TIME_ST;
import static dev.stealtime.tck.arm64.PvTime.PV_TIME_ST_SMC32;
import static dev.stealtime.tck.rules.Level.LINUX_ABI_GROUP;
import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static dev.stealtime.tck.support.GuestLayout.HIGH_SLOT;
import static dev.stealtime.tck.support.GuestLayout.MID;
import static dev.stealtime.tck.support.GuestLayout.low;

/**
 * The guest side (Documentation/virt/kvm/arm/pvtime.rst, DEN0057A):
 * <pre>
 *   SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) probes for PV_TIME_FEATURES
 *   PV_TIME_FEATURES 0xC5000020 (PV_call_id) → NOT_SUPPORTED (-1) or SUCCESS (0)
 *   PV_TIME_ST       0xC5000021              → IPA of this VCPU's structure, or NOT_SUPPORTED (-1)
 *   only in the SMC64/HVC64 calling convention
 * </pre>
 * Linux answers PV_TIME_FEATURES(PV_TIME_ST / PV_TIME_FEATURES) with SUCCESS only once the vCPU's IPA is set.
 */
public class HypercallTests extends Arm64TckTest {

    /**
     * Function ids that are not PV_TIME_ST or PV_TIME_FEATURES: neighbours in the vendor-hypervisor
     * service range (0xC5000022 is DEN0057A's PV_TIME_LPT, which KVM does not implement), the SMC32
     * forms, other SMCCC services, and edge values.
     */
    private static final int[] OTHER_FUNCTION_IDS = {
            0x00000000, 0x00000001, 0x80000000, 0x80000001, 0x80008000,
            0xC5000000, 0xC500001F, 0xC5000022, 0xC5000023, 0xC5000120, 0xC5010021, 0xC4000021, 0xC6000021,
            0x45000021, PV_TIME_FEATURES_SMC32, PV_TIME_ST_SMC32, 0x7FFFFFFF, 0xFFFFFFFF};

    // ---------------------------------------------------------------- ARM-ARCH-FEATURES

    @TckRule(RuleIds.ARM_ARCH_FEATURES)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ARCH_FEATURES_successWhenPvTimeIsOffered() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        Evidence.step("SMCCC_VERSION: 1.1 or later, so the guest may use SMCCC_ARCH_FEATURES",
                () -> assertThatCall(vcpu.smcccVersion()).returnsAtLeast(PvTime.SMCCC_1_1, "SMCCC 1.1 (0x10001)"));
        Evidence.step("before the VMM set an IPA", () -> assertThatCall(vcpu.archFeatures(PV_TIME_FEATURES)).returnsSuccess());
        vcpu.configure(low(0));
        Evidence.step("after the VMM set an IPA", () -> assertThatCall(vcpu.archFeatures(PV_TIME_FEATURES)).returnsSuccess());
        vcpu.stolenTimeIpa();
        Evidence.step("after the guest called PV_TIME_ST", () -> assertThatCall(vcpu.archFeatures(PV_TIME_FEATURES)).returnsSuccess());
    }

    @TckRule(RuleIds.ARM_ARCH_FEATURES)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ARCH_FEATURES_notSupportedWhenPvTimeIsNotOffered() {
        PvTimeVcpu vcpu = openVmWithoutPvTime(1).vcpu(0);
        assertThatCall(vcpu.archFeatures(PV_TIME_FEATURES)).returnsNotSupported();
    }

    // ---------------------------------------------------------------- ARM-FEATURES-ST

    @TckRule(RuleIds.ARM_FEATURES_ST)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_FEATURES_ST_successOnceTheIpaIsSet() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.configure(low(0));
        Evidence.step("IPA set", () -> assertThatCall(vcpu.features(PV_TIME_ST)).returnsSuccess());
        vcpu.stolenTimeIpa();
        Evidence.step("after PV_TIME_ST", () -> assertThatCall(vcpu.features(PV_TIME_ST)).returnsSuccess());
    }

    /**
     * Seed 002 says only "SUCCESS (0) if the relevant PV-time feature is supported by the
     * hypervisor": a hypervisor may answer SUCCESS as soon as it offers PV time. Tying the answer
     * to the IPA is Linux's reading (since v5.9), so it is this linux-abi rule, not ARM-FEATURES-ST.
     */
    @TckRule(RuleIds.ARM_FEATURES_ST_NEEDS_IPA)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_FEATURES_ST_NEEDS_IPA_notSupportedBeforeTheIpaIsSet() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.requireTckPlacesStructure("a vCPU whose IPA is not set yet");
        assertThatCall(vcpu.features(PV_TIME_ST)).as("Linux: no stolen-time structure for this vCPU yet").returnsNotSupported();
    }

    @TckRule(RuleIds.ARM_FEATURES_ST)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_FEATURES_ST_notSupportedWhenPvTimeIsNotOffered() {
        PvTimeVcpu vcpu = openVmWithoutPvTime(1).vcpu(0);
        assertThatCall(vcpu.features(PV_TIME_ST)).returnsNotSupported();
    }

    // ---------------------------------------------------------------- ARM-FEATURES-UNKNOWN

    @TckRule(RuleIds.ARM_FEATURES_UNKNOWN)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_FEATURES_UNKNOWN_everyOtherFunctionIdIsNotSupported() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        List<Hypercall> before = Evidence.step("PV_TIME_FEATURES(x) before the IPA is set", () -> otherFeatures(vcpu));
        vcpu.enable(low(0));
        List<Hypercall> after = Evidence.step("PV_TIME_FEATURES(x) once the IPA is set", () -> otherFeatures(vcpu));
        List<Hypercall> all = new ArrayList<>(before);
        all.addAll(after);
        table("PV_TIME_FEATURES of other function ids", all);
        all.forEach(c -> assertThatCall(c).as("only PV_TIME_ST (and PV_TIME_FEATURES) are PV-time features").returnsNotSupported());
    }

    private static List<Hypercall> otherFeatures(PvTimeVcpu vcpu) {
        List<Hypercall> out = new ArrayList<>();
        for (int id : OTHER_FUNCTION_IDS) {
            out.add(vcpu.features(id));
        }
        return out;
    }

    // ---------------------------------------------------------------- ARM-FEATURES-SELF

    @TckRule(RuleIds.ARM_FEATURES_SELF)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_FEATURES_SELF_successOnceTheIpaIsSet() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.configure(low(0));
        Evidence.step("IPA set", () -> assertThatCall(vcpu.features(PV_TIME_FEATURES)).returnsSuccess());
        vcpu.stolenTimeIpa();
        Evidence.step("after PV_TIME_ST", () -> assertThatCall(vcpu.features(PV_TIME_FEATURES)).returnsSuccess());
    }

    @TckRule(RuleIds.ARM_FEATURES_SELF)
    @Test(groups = LINUX_ABI_GROUP)
    public void ARM_FEATURES_SELF_notSupportedBeforeTheIpaIsSet() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.requireTckPlacesStructure("a vCPU whose IPA is not set yet");
        assertThatCall(vcpu.features(PV_TIME_FEATURES)).as("Linux: SUCCESS only once the IPA is set").returnsNotSupported();
    }

    // ---------------------------------------------------------------- ARM-ST-RETURNS-OWN-IPA

    @TckRule(RuleIds.ARM_ST_RETURNS_OWN_IPA)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ST_RETURNS_OWN_IPA_eachVcpuGetsItsOwnStructure() {
        PvTimeVm vm = openPvTimeVm(4);
        long[] ipas = {low(0), low(0) + 64, low(7) + 128, low(3)};
        Evidence.step("the VMM gives each vCPU a different IPA", () -> {
            for (int i = 0; i < ipas.length; i++) {
                vm.vcpu(i).configure(ipas[i]);
            }
        });
        List<Hypercall> calls = new ArrayList<>();
        Evidence.step("each vCPU calls PV_TIME_ST, out of order and twice", () -> {
            for (int i : new int[]{2, 0, 3, 1, 1, 3, 0, 2}) {
                calls.add(vm.vcpu(i).stolenTimeIpa());
            }
        });
        table("PV_TIME_ST per vCPU", calls);
        calls.forEach(c -> assertThatCall(c).as("the calling vCPU's own IPA").returnsIpa(vm.vcpu(c.vcpu()).ipa()));
    }

    @TckRule(RuleIds.ARM_ST_RETURNS_OWN_IPA)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ST_RETURNS_OWN_IPA_theWholeIpaInEveryRegion() {
        List<Long> ipas = new ArrayList<>(List.of(low(5) + 64));
        if (layout().regions().contains(MID)) {
            ipas.add(MID.gpa() + 0x40);
        }
        if (layout().hasHigh()) {
            ipas.add(HIGH_SLOT);   // above 4 GiB: x0 must carry all 64 bits
        }
        List<Hypercall> calls = new ArrayList<>();
        for (long ipa : ipas) {
            PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
            vcpu.requireTckPlacesStructure("IPAs the TCK chooses, in every RAM region");
            vcpu.configure(ipa);
            Hypercall st = vcpu.stolenTimeIpa();
            calls.add(st);
            Evidence.step(String.format("IPA 0x%x", ipa), () -> assertThatCall(st).returnsIpa(ipa));
        }
        table("PV_TIME_ST per region", calls);
    }

    // ---------------------------------------------------------------- ARM-ST-NOT-SUPPORTED

    @TckRule(RuleIds.ARM_ST_NOT_SUPPORTED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ST_NOT_SUPPORTED_beforeTheIpaIsSet() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        vcpu.requireTckPlacesStructure("a vCPU without a structure");
        assertThatCall(vcpu.stolenTimeIpa()).as("no structure configured").returnsNotSupported();
        assertThatCall(vcpu.stolenTimeIpa()).as("asked again").returnsNotSupported();
    }

    @TckRule(RuleIds.ARM_ST_NOT_SUPPORTED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ST_NOT_SUPPORTED_onAVcpuWithoutAStructureWhileAnotherHasOne() {
        PvTimeVm vm = openPvTimeVm(2);
        vm.vcpu(1).requireTckPlacesStructure("a vCPU without a structure beside one with");
        vm.vcpu(0).enable(low(0));
        assertThatCall(vm.vcpu(1).stolenTimeIpa()).as("vCPU 0 has a structure, vCPU 1 has none").returnsNotSupported();
    }

    @TckRule(RuleIds.ARM_ST_NOT_SUPPORTED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_ST_NOT_SUPPORTED_whenPvTimeIsNotOffered() {
        PvTimeVcpu vcpu = openVmWithoutPvTime(1).vcpu(0);
        assertThatCall(vcpu.stolenTimeIpa()).returnsNotSupported();
    }

    // ---------------------------------------------------------------- ARM-SMC64-ONLY

    @TckRule(RuleIds.ARM_SMC64_ONLY)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_SMC64_ONLY_smc32FormsAreNotSupported() {
        PvTimeVcpu vcpu = openPvTimeVm(1).vcpu(0);
        List<Hypercall> before = Evidence.step("SMC32 forms before the IPA is set", () -> smc32Calls(vcpu));
        vcpu.enable(low(0));
        List<Hypercall> after = Evidence.step("SMC32 forms once the IPA is set and PV_TIME_ST was called", () -> smc32Calls(vcpu));
        List<Hypercall> all = new ArrayList<>(before);
        all.addAll(after);
        table("SMC32 calls", all);
        all.forEach(c -> assertThatCall(c).as("PV time exists only in the SMC64/HVC64 calling convention").returnsNotSupported());
    }

    private static List<Hypercall> smc32Calls(PvTimeVcpu vcpu) {
        return List.of(
                vcpu.call(PV_TIME_FEATURES_SMC32, PV_TIME_ST & 0xffffffffL),
                vcpu.call(PV_TIME_FEATURES_SMC32, PV_TIME_FEATURES & 0xffffffffL),
                vcpu.call(PV_TIME_FEATURES_SMC32, PV_TIME_ST_SMC32),
                vcpu.call(PV_TIME_ST_SMC32),
                vcpu.archFeatures(PV_TIME_FEATURES_SMC32));
    }
}
