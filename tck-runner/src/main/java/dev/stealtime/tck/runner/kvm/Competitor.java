package dev.stealtime.tck.runner.kvm;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A thread that takes one CPU away from everyone else for a while: pinned to that CPU, at
 * SCHED_FIFO real-time priority (any SCHED_OTHER thread pinned there, such as a vCPU thread, stays
 * runnable but cannot run), spinning until it has itself been on the CPU for the requested time.
 *
 * <p>It counts its own CPU time, not wall time: if it is briefly held up itself (a JVM safepoint, an
 * interrupt, real-time throttling), the vCPU thread may run in between, and counting CPU time still
 * keeps that thread off the CPU for at least the requested total.
 */
final class Competitor {

    /** Above every SCHED_OTHER thread, below the kernel's own real-time threads (migration: 99). */
    static final int FIFO_PRIORITY = 10;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** What a hold did: whether it ran real-time, how long it spun on the CPU and on the clock. */
    record Hold(boolean realTime, long cpuNanos, long wallNanos) {
    }

    private Competitor() {
    }

    /** Holds {@code cpu} for {@code d}; returns when the competitor has let go. */
    static Hold hold(int cpu, Duration d) {
        return hold(cpu, d, () -> { });
    }

    /**
     * Holds {@code cpu} for {@code d}, runs {@code beforeRelease} on the competitor while it still
     * holds the CPU, then lets go (back to SCHED_OTHER at once, so the JVM's thread exit does not
     * run real-time). Returns when the competitor thread has ended.
     */
    static Hold hold(int cpu, Duration d, Runnable beforeRelease) {
        long target = d.toNanos();
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                // real-time first, then move: once on the CPU it preempts the vCPU thread at once
                boolean rt = Os.makeCurrentThreadFifo(FIFO_PRIORITY);
                Os.pinCurrentThread(cpu);
                long wall0 = System.nanoTime();
                long cpu0 = THREADS.getCurrentThreadCpuTime();
                long spun;
                do {
                    spun = THREADS.getCurrentThreadCpuTime() - cpu0;
                } while (spun < target);
                long wall = System.nanoTime() - wall0;
                try {
                    beforeRelease.run();
                } finally {
                    Os.makeCurrentThreadNormal();
                }
                result.set(new Hold(rt, spun, wall));
            } catch (RuntimeException | Error e) {
                result.set(e);
            }
        }, "kvm-competitor-cpu" + cpu);
        t.setDaemon(true);
        t.start();
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // a half-done hold would leave the competitor running: finish it
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Object r = result.get();
        if (r instanceof RuntimeException e) {
            throw e;
        }
        if (r instanceof Error e) {
            throw e;
        }
        return (Hold) r;
    }
}
