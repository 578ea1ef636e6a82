package dev.stealtime.tck.runner.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What a run creates outside its results and must not leave behind: temporary files and
 * directories (the report generator's work folder, summaries being written, guest RAM files) and
 * child processes (the report generator). Each is registered while it exists; a shutdown hook
 * (Ctrl-C, SIGTERM) stops the processes and deletes the files, so an interrupted run leaves nothing.
 */
public final class Leftovers {

    private static final Set<Path> PATHS = new LinkedHashSet<>();
    private static final Set<Process> PROCESSES = new LinkedHashSet<>();
    private static final Set<Runnable> FIRST = new LinkedHashSet<>();
    private static boolean hooked;
    /** Set once the JVM shuts down: nothing new may be created from then on. */
    private static boolean closed;

    /** Something that creates a file or directory. */
    @FunctionalInterface
    public interface Creator {
        Path create() throws IOException;
    }

    /**
     * Creates a temporary file or directory and registers it in one step, so that a shutdown cannot
     * come between the two (the run's threads go on while the shutdown hook runs). After shutdown
     * began, nothing is created.
     */
    public static synchronized Path create(Creator creator) throws IOException {
        if (closed) {
            throw new IOException("the TCK is shutting down (interrupted): not creating another temporary file");
        }
        hook();
        Path p = creator.create();
        PATHS.add(p);
        return p;
    }

    private Leftovers() {
    }

    public static synchronized Path track(Path p) {
        hook();
        PATHS.add(p);
        return p;
    }

    public static synchronized void untrack(Path p) {
        PATHS.remove(p);
    }

    public static synchronized Process track(Process p) {
        hook();
        if (closed) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new IllegalStateException("the TCK is shutting down (interrupted): process stopped");
        }
        PROCESSES.add(p);
        return p;
    }

    public static synchronized void untrack(Process p) {
        PROCESSES.remove(p);
    }

    private static void hook() {
        if (!hooked) {
            hooked = true;
            Runtime.getRuntime().addShutdownHook(new Thread(Leftovers::shutdown, "tck-shutdown"));
        }
    }

    /**
     * Runs {@code action} at shutdown before the clean-up (e.g. writing an INTERRUPTED summary): one
     * hook does both, in this order. Remove it with {@link #removeOnShutdown} when it is no longer due.
     */
    public static synchronized void onShutdown(Runnable action) {
        hook();
        FIRST.add(action);
    }

    public static synchronized void removeOnShutdown(Runnable action) {
        FIRST.remove(action);
    }

    private static void shutdown() {
        List<Runnable> first;
        synchronized (Leftovers.class) {
            first = new ArrayList<>(FIRST);
            FIRST.clear();
        }
        for (Runnable r : first) {
            try {
                r.run();
            } catch (RuntimeException e) {
                System.err.println("tck: at shutdown: " + e);
            }
        }
        cleanUp();
    }

    /**
     * Stops every registered process (and its children), then deletes every registered path. Only at
     * shutdown: afterwards nothing new is created in this JVM.
     */
    public static void cleanUp() {
        List<Process> processes;
        List<Path> paths;
        synchronized (Leftovers.class) {
            closed = true;
            processes = new ArrayList<>(PROCESSES);
            paths = new ArrayList<>(PATHS);
            PROCESSES.clear();
            PATHS.clear();
        }
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (Path p : paths) {
            deleteQuietly(p);
        }
    }

    /** Deletes a file or directory tree, best effort. */
    public static void deleteQuietly(Path dir) {
        PrivateFiles.deleteTree(dir);
    }
}
