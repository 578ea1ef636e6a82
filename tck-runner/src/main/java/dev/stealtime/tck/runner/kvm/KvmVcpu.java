package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * An x86 vCPU of a {@link KvmVm}. Every ioctl runs on the vCPU's own {@link VcpuThread}; the
 * workload methods coordinate that thread with a {@link Competitor} from the caller's thread:
 * <ul>
 *   <li>{@link #run}: the guest busy loop, exiting about every millisecond, until {@code d} passed;</li>
 *   <li>{@link #preempt}: the busy loop keeps the vCPU thread runnable while a SCHED_FIFO competitor
 *       pinned to the vCPU's CPU holds that CPU for {@code d}; afterwards the guest runs one more
 *       tick, so KVM has already recorded the steal when this returns;</li>
 *   <li>{@link #idle}: the guest executes HLT and the vCPU thread blocks inside KVM_RUN; once it
 *       is seen asleep, the competitor holds the CPU for {@code d} and, just before letting go,
 *       sends the signal that ends the KVM_RUN.</li>
 * </ul>
 */
final class KvmVcpu implements X86Vcpu {

    /** How long {@link #idle} waits for the vCPU thread to block in HLT before giving up. */
    private static final long BLOCK_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final int index;
    private final int cpu;
    private final VcpuThread thread;
    private final VcpuCore core;
    private volatile boolean closed;

    KvmVcpu(String threadName, int vmFd, int index, int cpu, long runSize, Cpuid cpuid, boolean stealOffered) {
        this.index = index;
        this.cpu = cpu;
        this.thread = new VcpuThread(threadName);
        try {
            this.core = thread.call(() -> VcpuCore.create(vmFd, index, cpu, runSize, cpuid, stealOffered));
        } catch (RuntimeException | Error e) {
            thread.shutdown();
            throw e;
        }
    }

    @Override
    public int index() {
        return index;
    }

    /** The host CPU this vCPU's thread is pinned to. */
    int cpu() {
        return cpu;
    }

    /** The Linux thread id of the vCPU thread. */
    int tid() {
        return core.tid();
    }

    @Override
    public void run(Duration d) {
        long deadline = System.nanoTime() + d.toNanos();
        onThread(() -> {
            core.busy(() -> { }, () -> System.nanoTime() - deadline >= 0);
            return null;
        });
    }

    @Override
    public void preempt(Duration d) {
        ensureOpen();
        CountDownLatch running = new CountDownLatch(1);
        AtomicBoolean released = new AtomicBoolean();
        AtomicBoolean lastTickDone = new AtomicBoolean();
        Future<Void> guest = thread.submit(() -> {
            // once the competitor has let go, run one more tick: its entry records the steal
            core.busy(running::countDown, () -> released.get() && !lastTickDone.compareAndSet(false, true));
            return null;
        });
        try {
            awaitOrFail(running, guest);
            Competitor.hold(cpu, d);
        } finally {
            released.set(true);
            VcpuThread.await(guest);
        }
    }

    @Override
    public void idle(Duration d) {
        ensureOpen();
        CountDownLatch halting = new CountDownLatch(1);
        AtomicBoolean wake = new AtomicBoolean();
        Future<Void> guest = thread.submit(() -> {
            core.halt(halting::countDown, wake::get);
            return null;
        });
        boolean blocked = false;
        try {
            awaitOrFail(halting, guest);
            blocked = awaitBlocked(guest);
            if (blocked && !d.isZero() && !d.isNegative()) {
                // wake the vCPU while the competitor still holds its CPU: when it lets go, the vCPU
                // thread is already runnable there and need not queue behind whatever got the CPU first
                Competitor.hold(cpu, d, () -> wake(wake));
            }
        } finally {
            if (!guest.isDone()) {
                wake(wake); // again if need be: a spare signal is harmless (see VcpuCore), a lost one is not
            }
            VcpuThread.await(guest);
        }
        if (!blocked) {
            throw new IllegalStateException("vCPU " + index + ": its thread did not block in guest HLT within 2 s");
        }
    }

    /** Ends the halt: the flag first, then the signal that interrupts KVM_RUN. */
    private void wake(AtomicBoolean wake) {
        wake.set(true);
        Os.signalThread(core.tid(), VcpuCore.WAKE_SIGNAL);
    }

    /** Waits until the vCPU thread sleeps (blocked in KVM's halt), or the guest task ended. */
    private boolean awaitBlocked(Future<?> guest) {
        long deadline = System.nanoTime() + BLOCK_TIMEOUT_NANOS;
        while (System.nanoTime() - deadline < 0 && !guest.isDone()) {
            if (SchedStat.state(core.tid()) == 'S') {
                return true;
            }
            LockSupport.parkNanos(20_000);
        }
        return false;
    }

    private static void awaitOrFail(CountDownLatch latch, Future<?> guest) {
        while (latch.getCount() > 0) {
            if (guest.isDone()) {
                VcpuThread.await(guest); // rethrows what went wrong on the vCPU thread
                throw new IllegalStateException("guest task ended early");
            }
            LockSupport.parkNanos(10_000);
        }
    }

    @Override
    public long hostStealMeasureNanos() {
        ensureOpen();
        return SchedStat.runDelayNanos(core.tid());
    }

    @Override
    public MsrResult guestWrmsr(int msr, long value) {
        return onThread(() -> core.wrmsr(msr, value));
    }

    @Override
    public MsrResult guestRdmsr(int msr) {
        return onThread(() -> core.rdmsr(msr));
    }

    @Override
    public boolean hostSetMsr(int msr, long value) {
        return onThread(() -> core.hostSetMsr(msr, value));
    }

    @Override
    public long hostGetMsr(int msr) {
        return onThread(() -> core.hostGetMsr(msr));
    }

    @Override
    public CpuidResult cpuid(int leaf) {
        return onThread(() -> core.cpuid(leaf));
    }

    private <T> T onThread(java.util.concurrent.Callable<T> work) {
        ensureOpen();
        return thread.call(work);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("vCPU " + index + " is closed");
        }
    }

    /** Closes the vCPU fd and its kvm_run mapping on the vCPU thread, then ends the thread. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            thread.call(() -> {
                core.close();
                return null;
            });
        } finally {
            thread.shutdown();
        }
    }

    @Override
    public String toString() {
        return "kvm vCPU " + index + " (thread " + core.tid() + ", cpu " + cpu + ")";
    }
}
