package dev.stealtime.tck.runner.result;

import io.qameta.allure.Allure;
import io.qameta.allure.AllureLifecycle;
import io.qameta.allure.AllureResultsWriter;
import io.qameta.allure.FileSystemResultsWriter;
import io.qameta.allure.model.TestResult;
import io.qameta.allure.model.TestResultContainer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Where the Allure results of one TCK run go. Allure keeps one global lifecycle per JVM, read once
 * from {@code allure.results.directory}; a run swaps in its own for its duration (allure-testng,
 * which TestNG loads per run, and {@link dev.stealtime.tck.support.Evidence} both use the global
 * one) and puts the previous one back afterwards. Without a directory the run's results are
 * discarded: the TCK's self-tests run the suites many times against faulty hypervisors, and those
 * expected failures must not appear in the self-test report as if they were real ones.
 */
public final class AllureScope implements AutoCloseable {

    private final AllureLifecycle previous;

    private AllureScope(AllureLifecycle previous) {
        this.previous = previous;
    }

    /**
     * Starts writing Allure results to {@code dir} (created when needed), or discarding them when
     * {@code dir} is null. Call with the thread context class loader that sees the suites, so that
     * Allure finds the TCK's lifecycle listeners (rule labels).
     */
    public static AllureScope open(Path dir) {
        AllureLifecycle previous = Allure.getLifecycle();
        AllureResultsWriter writer = dir == null ? new Discard() : new FileSystemResultsWriter(dir);
        Allure.setLifecycle(new AllureLifecycle(writer));
        return new AllureScope(previous);
    }

    @Override
    public void close() {
        Allure.setLifecycle(previous);
    }

    /** Writes nothing. */
    static final class Discard implements AllureResultsWriter {
        @Override
        public void write(TestResult testResult) {
        }

        @Override
        public void write(TestResultContainer testResultContainer) {
        }

        @Override
        public void write(String source, InputStream attachment) {
            try {
                attachment.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
