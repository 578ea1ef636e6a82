package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RuleResult;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.result.TestOutcome;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import org.testng.annotations.Test;

import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** The reference is the executable form of the rules: every x86 rule passes against it, none is not applicable. */
public class X86ReferenceConformsTest {

    @Test
    public void everyX86RulePassesAgainstTheReference() {
        RunResult r = DetectionTable.run(new ReferenceProvider(), Suite.X86);
        String report = r.rules().stream().map(rr -> String.format("%-26s %-15s %s", rr.rule().id(), rr.outcome(), rr.message()))
                .collect(Collectors.joining("\n"));
        assertThat(r.rules()).as("every x86 rule of the catalogue is graded").hasSize(RuleCatalogue.get().suite("x86").size());
        assertThat(r.rules()).as("rules:%n%s", report).allSatisfy(rr -> assertThat(rr.outcome()).isEqualTo(Outcome.PASS));
        assertThat(r.tests()).as("every test result").allSatisfy(t -> assertThat(t.outcome()).as(t.name()).isEqualTo(Outcome.PASS));
        assertThat(r.conforms()).isTrue();
        for (RuleResult rr : r.rules()) {
            assertThat(rr.tests()).as("tests of %s", rr.rule().id()).isNotEmpty().extracting(TestOutcome::outcome).containsOnly(Outcome.PASS);
        }
    }
}
