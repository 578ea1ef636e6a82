package dev.stealtime.tck.runner.kvm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The scheduler's view of one thread of this process, from procfs. {@code run_delay} (field 2 of
 * {@code schedstat}) is the time the thread spent runnable but waiting for a CPU: exactly the
 * counter Linux KVM feeds into the guest's steal time ({@code current->sched_info.run_delay}).
 */
final class SchedStat {

    private SchedStat() {
    }

    /** Cumulative run-queue wait of thread {@code tid}, in nanoseconds. */
    static long runDelayNanos(int tid) {
        String[] fields = read(Path.of("/proc/self/task/" + tid + "/schedstat")).trim().split("\\s+");
        // fields: time on CPU (ns), run_delay (ns), number of timeslices
        return Long.parseLong(fields[1]);
    }

    /** The one-letter state of thread {@code tid}: R running/runnable, S sleeping, D, T, ... */
    static char state(int tid) {
        String stat = read(Path.of("/proc/self/task/" + tid + "/stat"));
        // "tid (comm) S ..." where comm may itself contain spaces and parentheses
        return stat.charAt(stat.lastIndexOf(')') + 2);
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }
}
