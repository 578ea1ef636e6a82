package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.rules.Rule;

import java.util.List;

/**
 * The outcome of one catalogue rule in a run, and the test results behind it.
 *
 * @param rule    the rule
 * @param outcome PASS, FAIL or NOT_APPLICABLE
 * @param tests   test results that named the rule
 * @param message why it failed or was not applicable (empty when it passed)
 * @param millis  time spent in its tests
 */
public record RuleResult(Rule rule, Outcome outcome, List<TestOutcome> tests, String message, long millis) {

    /** Whether this result fails the run: a FAIL of a gating (required or linux-abi) rule. */
    public boolean gatingFailure() {
        return outcome == Outcome.FAIL && rule.level().gating();
    }
}
