package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.runner.exit.ExitCodes;

/**
 * The verdict of a run, and the exit code of {@code tck run} that carries it. A verdict is never
 * vacuous: a run in which no rule of a claimed gating level was really tested (the provider is
 * unavailable, or every such rule is NOT APPLICABLE) is NOT TESTED, not CONFORMS.
 */
public enum Verdict {
    /** Every rule of the claimed gating levels passed or is NOT APPLICABLE, and at least one passed. */
    CONFORMS("CONFORMS", ExitCodes.CONFORMS),
    /** A rule of a claimed gating level failed. */
    DOES_NOT_CONFORM("DOES NOT CONFORM", ExitCodes.GATING_FAILURE),
    /** Nothing failed, but no rule of a claimed gating level was tested: no verdict on conformance. */
    NOT_TESTED("NOT TESTED", ExitCodes.NOT_TESTED),
    /**
     * Only the rules asked for ({@code tck run --rule}) were tested, and none of them failed: a
     * developer's quick check of one behaviour, never a verdict on conformance.
     */
    PARTIAL("PARTIAL", ExitCodes.PARTIAL),
    /** The run was stopped (Ctrl-C, SIGTERM) before it finished: the results are partial. */
    INTERRUPTED("INTERRUPTED", ExitCodes.INTERRUPTED);

    /** How the verdict is written for people: console, conformance.md, the report. */
    public final String words;
    public final int exitCode;

    Verdict(String words, int exitCode) {
        this.words = words;
        this.exitCode = exitCode;
    }

    @Override
    public String toString() {
        return words;
    }
}
