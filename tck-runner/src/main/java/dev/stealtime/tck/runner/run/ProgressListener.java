package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.runner.result.TestOutcome;

/** Told about each test as it completes, for console progress. */
public interface ProgressListener {

    ProgressListener SILENT = new ProgressListener() {
    };

    default void testFinished(TestOutcome outcome, int done) {
    }
}
