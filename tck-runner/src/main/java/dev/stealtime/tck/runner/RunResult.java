package dev.stealtime.tck.runner;

import java.time.Duration;
import java.util.List;

/** Everything a run produced, rule by rule. */
public record RunResult(List<RuleResult> rules, List<TestOutcome> tests, Duration elapsed) {

    public long count(Outcome outcome) {
        return rules.stream().filter(r -> r.outcome() == outcome).count();
    }

    /** True when no gating rule failed: exit code 0. */
    public boolean conforms() {
        return rules.stream().noneMatch(RuleResult::gatingFailure);
    }

    public RuleResult rule(String id) {
        return rules.stream().filter(r -> r.rule().id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("rule " + id + " was not part of this run"));
    }

    public List<String> failedRuleIds() {
        return rules.stream().filter(r -> r.outcome() == Outcome.FAIL).map(r -> r.rule().id()).toList();
    }
}
