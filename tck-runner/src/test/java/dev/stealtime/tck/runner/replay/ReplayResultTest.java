package dev.stealtime.tck.runner.replay;

import dev.stealtime.tck.runner.emulatedkvm.SelftestResult;
import org.testng.annotations.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What a replay expects ({@link Replay.Result#unmet}) and how the table counts it. */
public class ReplayResultTest {

    private static KernelPatch patch(String kind, List<String> rules, String racy, String equivalent) {
        return new KernelPatch("p", Path.of("p.patch"), "arm64", kind, "", "b", rules, racy, equivalent, List.of("arch/arm64/kvm/pvtime.c"));
    }

    private static Replay.Result result(KernelPatch p, String verdict, List<String> failing, List<String> required, SelftestResult st) {
        return new Replay.Result(p, "/b", null, 1, verdict, 0, failing, List.of(), required, "/t", 1, st);
    }

    private static final SelftestResult PASS = new SelftestResult("PASS", 0, "", 1);

    @Test
    public void aDefectMustBeFailedByARuleItsHeaderNames() {
        KernelPatch p = patch("history", List.of("ARM-EEXIST"), "", "");
        assertThat(result(p, "DOES NOT CONFORM", List.of("ARM-EEXIST", "ARM-GET-ATTR"), List.of(), PASS).unmet()).isNull();
        assertThat(result(p, "DOES NOT CONFORM", List.of("ARM-GET-ATTR"), List.of(), PASS).unmet()).contains("none of [ARM-EEXIST]");
        assertThat(result(p, "CONFORMS", List.of(), List.of(), PASS).unmet()).contains("none of");
    }

    @Test
    public void repeatedADeterministicDefectMustBeFailedByItsRuleInEveryRun() {
        KernelPatch p = patch("mutant", List.of("ARM-LITTLE-ENDIAN"), "", "");
        Replay.Result everyRun = new Replay.Result(p, "/b", null, 1, "DOES NOT CONFORM", 1, List.of("ARM-LITTLE-ENDIAN", "ARM-MONOTONIC"),
                List.of(), List.of(), "/t", 1, PASS, 10, java.util.Map.of("ARM-LITTLE-ENDIAN", 10, "ARM-MONOTONIC", 4));
        assertThat(everyRun.unmet()).isNull();
        assertThat(everyRun.perRule()).isEqualTo("ARM-LITTLE-ENDIAN 10/10, ARM-MONOTONIC 4/10");
        assertThat(ReplayTable.markdown(List.of(everyRun), 1)).contains("ARM-LITTLE-ENDIAN 10/10, ARM-MONOTONIC 4/10");
        Replay.Result halfTheRuns = new Replay.Result(p, "/b", null, 1, "DOES NOT CONFORM", 1, List.of("ARM-LITTLE-ENDIAN", "ARM-MONOTONIC"),
                List.of(), List.of(), "/t", 1, PASS, 4, new java.util.TreeMap<>(java.util.Map.of("ARM-LITTLE-ENDIAN", 2, "ARM-MONOTONIC", 4)));
        assertThat(halfTheRuns.unmet()).contains("failed in only 2 of 4 runs", "ARM-LITTLE-ENDIAN 2/4");
        // racy defects report how often, and expect nothing
        KernelPatch racy = patch("mutant", List.of("ARM-ATOMIC-UPDATE"), "a window of ns", "");
        assertThat(new Replay.Result(racy, "/b", null, 1, "CONFORMS", 0, List.of("ARM-ATOMIC-UPDATE"), List.of(), List.of(), "/t", 1, PASS,
                10, java.util.Map.of("ARM-ATOMIC-UPDATE", 3)).unmet()).isNull();
    }

    @Test
    public void racyEquivalentAndOutsideDefectsExpectNothing() {
        assertThat(result(patch("history", List.of("ARM-STEAL-ACCOUNTS"), "window", ""), "CONFORMS", List.of(), List.of(), PASS).unmet()).isNull();
        assertThat(result(patch("mutant", List.of(), "", "identity on LE"), "CONFORMS", List.of(), List.of(), PASS).unmet()).isNull();
        assertThat(result(patch("history", List.of("none: outside"), "", ""), "CONFORMS", List.of(), List.of(), PASS).unmet()).isNull();
    }

    @Test
    public void aFairnessCaseMustPassEveryRequiredRule() {
        KernelPatch p = patch("fairness", List.of("X86-OUTSIDE-RAM"), "", "");
        assertThat(result(p, "DOES NOT CONFORM", List.of("X86-RDMSR-READBACK"), List.of(), PASS).unmet()).isNull();
        assertThat(result(p, "DOES NOT CONFORM", List.of("X86-OUTSIDE-RAM"), List.of("X86-OUTSIDE-RAM"), PASS).unmet())
                .contains("failed required rules [X86-OUTSIDE-RAM]");
    }

    @Test
    public void theStockKernelMustConformAndPassTheSelftest() {
        KernelPatch stock = KernelPatch.stock("arm64");
        assertThat(result(stock, "CONFORMS", List.of(), List.of(), PASS).unmet()).isNull();
        assertThat(result(stock, "NOT TESTED", List.of(), List.of(), PASS).unmet()).contains("NOT TESTED");
        assertThat(result(stock, "CONFORMS", List.of(), List.of(), new SelftestResult("FAIL", 254, "x", 1)).unmet()).contains("selftest FAIL");
    }

    @Test
    public void theSelftestIsJudgedFromItsExitLine() {
        assertThat(SelftestResult.judge(List.of("TCK-SELFTEST BEGIN", "TCK-SELFTEST EXIT rc=0"), true, 1).outcome()).isEqualTo("PASS");
        SelftestResult f = SelftestResult.judge(List.of("==== Test Assertion Failure ====", "  steal_time.c:226: ret == -1 && errno == EINVAL",
                "  Bad IPA didn't report EINVAL", "TCK-SELFTEST EXIT rc=254"), true, 1);
        assertThat(f.outcome()).isEqualTo("FAIL");
        assertThat(f.detail()).contains("Bad IPA didn't report EINVAL");
        assertThat(SelftestResult.judge(List.of("TCK-SELFTEST EXIT rc=4"), true, 1).outcome()).isEqualTo("SKIP");
        assertThat(SelftestResult.judge(List.of("booting"), false, 1).outcome()).isEqualTo("ERROR");
    }

    @Test
    public void theTotalsLeaveOutEquivalentAndFairnessRows() {
        List<Replay.Result> rs = List.of(
                result(KernelPatch.stock("arm64"), "CONFORMS", List.of(), List.of(), PASS),
                result(patch("history", List.of("ARM-EEXIST"), "", ""), "DOES NOT CONFORM", List.of("ARM-EEXIST"), List.of("ARM-EEXIST"),
                        new SelftestResult("FAIL", 254, "x", 1)),
                result(patch("mutant", List.of(), "", "identity"), "CONFORMS", List.of(), List.of(), PASS));
        String t = ReplayTable.totals(rs, 5000);
        assertThat(t).contains("over 1 defective kernels", "the TCK fails 1", "in 1 of 1", "the selftest fails 1 (of 1",
                "arm64: CONFORMS, selftest PASS", "Wall time 5 s");
        assertThat(ReplayTable.markdown(rs, 5000)).contains("| `p` | arm64 | history |", "yes (ARM-EEXIST)");
    }

    @Test
    public void theRowShowsTheSubjectsAndTheBuild() {
        KernelPatch p = new KernelPatch("s", Path.of("0001-a.patch"), "x86", "patch", "", "", List.of(), "", "",
                List.of("arch/x86/include/asm/kvm_host.h", "arch/x86/kvm/x86.c", "Documentation/x.rst"),
                List.of(new KernelPatch.Commit("KVM: x86: add a field", Path.of("0001-a.patch"), "", List.of("arch/x86/include/asm/kvm_host.h")),
                        new KernelPatch.Commit("KVM: x86: use it", Path.of("0002-b.patch"), "", List.of("arch/x86/kvm/x86.c"))));
        BuildPlan plan = new BuildPlan("x86-image", "arch/x86/include/asm/kvm_host.h is also compiled into the kernel image", List.of("Documentation/x.rst"), false);
        Replay.Result r = new Replay.Result(p, "/b", null, 1, "CONFORMS", 0, List.of(), List.of(), List.of(), "/t", 1, PASS, 1, java.util.Map.of(),
                plan, "built in 6 min 40 s");
        assertThat(r.buildCell()).isEqualTo("image, built in 6 min 40 s; not used by this build: Documentation/x.rst: "
                + "arch/x86/include/asm/kvm_host.h is also compiled into the kernel image");
        assertThat(ReplayTable.markdown(List.of(r), 1)).contains("1/2 \"KVM: x86: add a field\"; 2/2 \"KVM: x86: use it\"", "| image, built in 6 min 40 s");
        assertThat(r.toMap()).containsEntry("subjects", List.of("KVM: x86: add a field", "KVM: x86: use it")).containsEntry("buildKind", "image");
        assertThat(Replay.duration(400)).isEqualTo("6 min 40 s");
    }
}
