package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import org.testng.annotations.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The reference hypervisor is the executable form of the rules: the arm64 suite passes against it, every rule, every test. */
public class Arm64ReferenceConformsTest {

    @Test
    public void everyArm64RulePassesAgainstTheReference() {
        RunResult run = DetectionTable.run(new ReferenceProvider(), Suite.ARM64);
        List<String> notPassed = run.rules().stream().filter(r -> r.outcome() != Outcome.PASS)
                .map(r -> r.rule().id() + " " + r.outcome() + ": " + r.message()).toList();
        assertThat(notPassed).as("arm64 rules that did not PASS against the reference").isEmpty();
        assertThat(run.rules()).extracting(r -> r.rule().id())
                .as("every arm64 rule of the catalogue was graded")
                .containsExactlyInAnyOrderElementsOf(RuleCatalogue.get().suite("arm64").stream().map(r -> r.id()).toList());
        List<String> testsNotPassed = run.tests().stream().filter(t -> t.outcome() != Outcome.PASS)
                .map(t -> t.name() + " " + t.outcome() + ": " + t.message()).toList();
        assertThat(testsNotPassed).as("arm64 tests that did not PASS (none may be NOT_APPLICABLE: the reference declares every capability)").isEmpty();
        assertThat(run.tests()).extracting(TestOutcome::name).as("tests run").hasSizeGreaterThanOrEqualTo(RuleCatalogue.get().suite("arm64").size());
        assertThat(run.conforms()).as("the run conforms (exit code 0)").isTrue();
    }
}
