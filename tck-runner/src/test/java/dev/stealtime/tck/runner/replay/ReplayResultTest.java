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
}
