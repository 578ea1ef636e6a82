package dev.stealtime.tck.runner.result;

import java.util.List;

/**
 * One executed test (or one data-driven case of it).
 *
 * @param name    class and method, e.g. {@code AlignmentTests.X86_ALIGN_REJECT_everyReservedBitPatternFaults}
 * @param ruleIds the rules it proves
 * @param outcome its outcome
 * @param message failure or not-applicable reason; empty when it passed
 * @param millis  duration
 */
public record TestOutcome(String name, List<String> ruleIds, Outcome outcome, String message, long millis) {
}
