package dev.stealtime.tck.runner;

import dev.stealtime.tck.runner.report.AllureHtml;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * What a run creates outside its results and must not leave behind: temporary files and
 * directories (the report generator's work folder, summaries being written, guest RAM files) and
 * child processes (the report generator). Each is registered while it exists; a shutdown hook
 * (Ctrl-C, SIGTERM) stops the processes and deletes the files, so an interrupted run leaves nothing.
 */
public final class Leftovers {

    private static final Set<Path> PATHS = new LinkedHashSet<>();
    private static final Set<Process> PROCESSES = new LinkedHashSet<>();
    private static boolean hooked;

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
        PROCESSES.add(p);
        return p;
    }

    public static synchronized void untrack(Process p) {
        PROCESSES.remove(p);
    }

    private static void hook() {
        if (!hooked) {
            hooked = true;
            Runtime.getRuntime().addShutdownHook(new Thread(Leftovers::cleanUp, "tck-leftovers"));
        }
    }

    /** Stops every registered process (and its children), then deletes every registered path. */
    public static void cleanUp() {
        List<Process> processes;
        List<Path> paths;
        synchronized (Leftovers.class) {
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
            AllureHtml.deleteQuietly(p);
        }
    }
}
