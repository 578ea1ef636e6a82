package dev.stealtime.tck.runner;

import java.io.PrintWriter;

/** Console progress: one line per test as it completes (verbose adds the message), nothing when quiet. */
final class ConsoleProgress implements ProgressListener {

    enum Verbosity { QUIET, NORMAL, VERBOSE }

    private final PrintWriter out;
    private final Verbosity verbosity;

    ConsoleProgress(PrintWriter out, Verbosity verbosity) {
        this.out = out;
        this.verbosity = verbosity;
    }

    @Override
    public void testFinished(TestOutcome o, int done) {
        if (verbosity == Verbosity.QUIET) {
            return;
        }
        String mark = switch (o.outcome()) {
            case PASS -> "PASS";
            case FAIL -> "FAIL";
            case NOT_APPLICABLE -> "N/A ";
        };
        out.printf("%4d %s %-26s %s (%d ms)%n", done, mark, String.join(",", o.ruleIds()), o.name(), o.millis());
        if (o.outcome() != Outcome.PASS && (verbosity == Verbosity.VERBOSE || o.outcome() == Outcome.FAIL)) {
            String msg = verbosity == Verbosity.VERBOSE ? o.message() : TckRun.firstLine(o.message());
            out.println("       " + msg.replace("\n", "\n       "));
        }
        out.flush();
    }
}
