package dev.stealtime.tck.runner.kvm;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A thread that takes one CPU away from everyone else on request: pinned to that CPU and
 * SCHED_FIFO (real-time) from the start, parked while idle. When a vCPU thread pinned to the same
 * CPU hands it a {@link Job}, it preempts that thread at once (a real-time wake-up beats every
 * SCHED_OTHER thread), spins for the requested time, runs the job's release action and parks
 * again. The vCPU thread stays runnable all along but cannot run: its run_delay grows, which is
 * exactly what Linux KVM reports as steal.
 *
 * <p>The competitor counts its own CPU time, not wall time: should it be held up itself (a JVM
 * safepoint, an interrupt, real-time throttling), the vCPU thread may run in between, and counting
 * CPU time still keeps that thread off the CPU for at least the requested total.
 *
 * <p>Jobs come from the vCPU thread itself, so no other thread (such as the TCK's, which competes
 * with everything else on a loaded machine) sits on the critical path.
 */
final class Competitor implements AutoCloseable {

    /** Above every SCHED_OTHER thread, below the kernel's own real-time threads (migration: 99). */
    static final int FIFO_PRIORITY = 10;

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final long FIRST_SLEEP_NANOS = 300_000;
    private static final long SLEEP_POLL_NANOS = 50_000;
    private static final long SLEEP_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(2);

    /**
     * One hold: optionally wait (sleeping, so the vCPU thread can get there) until thread
     * {@code awaitSleepOf} is asleep; then hold the CPU for {@code nanos}; then, always, run
     * {@code release} while still holding it.
     */
    static final class Job {
        private final long nanos;
        private final int awaitSleepOf;
        private final Runnable release;
        private final CountDownLatch finished = new CountDownLatch(1);
        private volatile RuntimeException failure;
        private volatile boolean realTime;

        Job(long nanos, int awaitSleepOf, Runnable release) {
            this.nanos = Math.max(0, nanos);
            this.awaitSleepOf = awaitSleepOf;
            this.release = release;
        }

        /** Waits until the competitor finished this job; rethrows what went wrong there. */
        void await() {
            boolean interrupted = false;
            while (true) {
                try {
                    finished.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (failure != null) {
                throw failure;
            }
        }

        /** Whether the competitor held the CPU at real-time priority. */
        boolean realTime() {
            return realTime;
        }
    }

    private final int cpu;
    private final Thread thread;
    private final Queue<Job> jobs = new ConcurrentLinkedQueue<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile boolean realTime;
    private volatile RuntimeException startFailure;
    private volatile boolean closed;

    Competitor(int cpu, String name) {
        this.cpu = cpu;
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        thread.start();
        try {
            ready.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (startFailure != null) {
            close();
            throw startFailure;
        }
    }

    int cpu() {
        return cpu;
    }

    /** Whether the competitor runs SCHED_FIFO (false where that is not permitted). */
    boolean realTime() {
        return realTime;
    }

    /** Hands over a job; the competitor preempts the caller if the caller runs on its CPU. */
    void submit(Job job) {
        if (closed) {
            throw new IllegalStateException("competitor for cpu " + cpu + " is closed");
        }
        jobs.add(job);
        LockSupport.unpark(thread);
    }

    private void loop() {
        try {
            realTime = Os.makeCurrentThreadFifo(FIFO_PRIORITY);
            Os.pinCurrentThread(cpu);
        } catch (RuntimeException e) {
            startFailure = e;
            return;
        } finally {
            ready.countDown();
        }
        while (true) {
            Job job = jobs.poll();
            if (job == null) {
                if (closed) {
                    return;
                }
                LockSupport.park(this);
                continue;
            }
            perform(job);
        }
    }

    private void perform(Job job) {
        job.realTime = realTime;
        try {
            if (job.awaitSleepOf > 0) {
                awaitSleep(job.awaitSleepOf);
            }
            long cpu0 = THREADS.getCurrentThreadCpuTime();
            while (THREADS.getCurrentThreadCpuTime() - cpu0 < job.nanos) {
                Thread.onSpinWait();
            }
        } catch (RuntimeException e) {
            job.failure = e;
        } finally {
            try {
                job.release.run();
            } catch (RuntimeException e) {
                job.failure = job.failure == null ? e : job.failure;
            }
            job.finished.countDown();
        }
    }

    /**
     * Sleeps in short steps (giving the CPU to that thread) until thread {@code tid} is asleep. The
     * first sleep outlasts KVM's default halt polling (200 µs), so a vCPU that goes straight into
     * HLT is usually blocked by the first look and is not interrupted while it polls.
     */
    private static void awaitSleep(int tid) {
        long deadline = System.nanoTime() + SLEEP_TIMEOUT_NANOS;
        LockSupport.parkNanos(FIRST_SLEEP_NANOS);
        while (SchedStat.state(tid) != 'S') {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("thread " + tid + " did not block within 2 s");
            }
            LockSupport.parkNanos(SLEEP_POLL_NANOS);
        }
    }

    /** Ends the thread once queued jobs are done, and waits for it. Idempotent. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(thread);
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
