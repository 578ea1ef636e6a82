package dev.stealtime.tck.runner.result;

import java.time.Duration;
import java.util.List;

/**
 * Everything a run produced, rule by rule.
 *
 * @param interrupted the run was stopped before it finished (the rules not reached are NOT_RUN)
 * @param selection   the rules asked for ({@code tck run --rule}, as given), empty for all: the
 *                    others are NOT_RUN and the verdict is at best PARTIAL
 */
public record RunResult(List<RuleResult> rules, List<TestOutcome> tests, Duration elapsed, boolean interrupted, String selection) {

    public RunResult(List<RuleResult> rules, List<TestOutcome> tests, Duration elapsed) {
        this(rules, tests, elapsed, false);
    }

    public RunResult(List<RuleResult> rules, List<TestOutcome> tests, Duration elapsed, boolean interrupted) {
        this(rules, tests, elapsed, interrupted, "");
    }

    /** Whether only some rules were asked for. */
    public boolean selective() {
        return !selection.isEmpty();
    }

    public long count(Outcome outcome) {
        return rules.stream().filter(r -> r.outcome() == outcome).count();
    }

    /** Rules of a gating level that were claimed and really tested (they passed or failed). */
    public long gatingRulesTested() {
        return rules.stream().filter(r -> r.rule().level().gating()
                && (r.outcome() == Outcome.PASS || r.outcome() == Outcome.FAIL)).count();
    }

    /** See {@link Verdict}. */
    public Verdict verdict() {
        if (interrupted) {
            return Verdict.INTERRUPTED;
        }
        if (rules.stream().anyMatch(RuleResult::gatingFailure)) {
            return Verdict.DOES_NOT_CONFORM;
        }
        if (gatingRulesTested() == 0) {
            return Verdict.NOT_TESTED;
        }
        return selective() ? Verdict.PARTIAL : Verdict.CONFORMS;
    }

    /** True when the verdict is CONFORMS: exit code 0. */
    public boolean conforms() {
        return verdict() == Verdict.CONFORMS;
    }

    /** Why the verdict is what it is, in one sentence. */
    public String verdictExplanation(List<String> gatingLevels) {
        String levels = gatingLevels.isEmpty() ? "none claimed" : String.join(", ", gatingLevels);
        return switch (verdict()) {
            case CONFORMS -> "every rule of the claimed gating levels (" + levels + ") passed or is not applicable; "
                    + gatingRulesTested() + " of them were tested.";
            case DOES_NOT_CONFORM -> {
                List<String> ids = rules.stream().filter(RuleResult::gatingFailure).map(r -> "`" + r.rule().id() + "`").toList();
                yield ids.size() + " gating rule(s) failed: " + String.join(", ", ids) + ".";
            }
            case NOT_TESTED -> "no rule of the claimed gating levels (" + levels + ") could be tested"
                    + rules.stream().filter(r -> r.outcome() == Outcome.NOT_APPLICABLE && r.rule().level().gating())
                    .map(r -> ": " + firstLine(r.message())).findFirst().orElse("") + ". This is no verdict on conformance.";
            case PARTIAL -> "only the rules selected by --rule " + selection + " were tested: every one of a claimed gating level ("
                    + levels + ") passed or is not applicable (" + gatingRulesTested() + " tested); " + count(Outcome.NOT_RUN)
                    + " other rule(s) were not run. This is no verdict on conformance: run every rule for one.";
            case INTERRUPTED -> "the run was interrupted after " + tests.size() + " test result(s); "
                    + count(Outcome.NOT_RUN) + " rule(s) were not reached. These results are partial.";
        };
    }

    public RuleResult rule(String id) {
        return rules.stream().filter(r -> r.rule().id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("rule " + id + " was not part of this run"));
    }

    public List<String> failedRuleIds() {
        return rules.stream().filter(r -> r.outcome() == Outcome.FAIL).map(r -> r.rule().id()).toList();
    }

    /**
     * A message on one line: its first line, and when that is only an AssertJ description
     * ({@code [what was checked] }) the reason AssertJ put on the lines after it too ("Expecting
     * value to be false but was true"), joined, up to the first blank line (at most 6 lines).
     */
    public static String firstLine(String s) {
        String[] lines = s.split("\n", -1);
        String first = lines[0];
        if (!first.stripTrailing().endsWith("]") || lines.length == 1) {
            return first;
        }
        StringBuilder sb = new StringBuilder(first.stripTrailing());
        for (int i = 1; i < lines.length && i <= 6 && !lines[i].isBlank(); i++) {
            sb.append(' ').append(lines[i].strip());
        }
        return sb.toString();
    }
}
