package dev.stealtime.tck.runner;

/** Told about each test as it completes, for console progress. */
public interface ProgressListener {

    ProgressListener SILENT = new ProgressListener() {
    };

    default void testFinished(TestOutcome outcome, int done) {
    }
}
