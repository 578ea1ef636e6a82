package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An x86 vCPU of a {@link KvmVm}. Every ioctl runs on the vCPU's own {@link VcpuThread}; the
 * workload methods are carried out there too, together with the {@link Competitor} of the vCPU's
 * CPU, so the caller's thread only hands the request over and waits for the end:
 * <ul>
 *   <li>{@link #run}: the guest busy loop, exiting about every millisecond, until {@code d} passed;</li>
 *   <li>{@link #preempt}: the vCPU thread loads the busy loop and hands the competitor a job; the
 *       real-time competitor preempts it at once and holds the CPU for {@code d} while the vCPU
 *       thread stays runnable; then the guest runs (at least one tick after the hold), so KVM has
 *       recorded the steal when this returns;</li>
 *   <li>{@link #idle}: the vCPU thread hands the competitor a job and enters KVM_RUN on a guest HLT,
 *       where it blocks (KVM's in-kernel irqchip handles HLT); the competitor waits until the
 *       thread sleeps, holds the CPU for {@code d}, and before letting go sends the signal that
 *       ends the KVM_RUN (see {@link VcpuCore} for the signal handling).</li>
 * </ul>
 */
final class KvmVcpu implements X86Vcpu {

    private final int index;
    private final Competitor competitor;
    private final VcpuThread thread;
    private final VcpuCore core;
    private volatile boolean closed;

    KvmVcpu(String threadName, int vmFd, int index, Competitor competitor, long runSize, Cpuid cpuid,
            boolean stealOffered) {
        this.index = index;
        this.competitor = competitor;
        this.thread = new VcpuThread(threadName);
        try {
            this.core = thread.call(() -> VcpuCore.create(vmFd, index, competitor.cpu(), runSize, cpuid, stealOffered));
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
        return competitor.cpu();
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
        AtomicBoolean released = new AtomicBoolean();
        AtomicBoolean lastTick = new AtomicBoolean();
        Competitor.Job hold = new Competitor.Job(d.toNanos(), 0, () -> released.set(true));
        onThread(() -> {
            // once the competitor has let go, run one more tick: its entry records the steal
            core.busy(() -> competitor.submit(hold), () -> released.get() && !lastTick.compareAndSet(false, true));
            return null;
        });
        hold.await();
    }

    @Override
    public void idle(Duration d) {
        AtomicBoolean wake = new AtomicBoolean();
        int tid = core.tid();
        Competitor.Job hold = new Competitor.Job(d.toNanos(), tid, () -> {
            // while still holding the CPU: when it lets go, the woken vCPU thread is already
            // runnable there and need not queue behind whatever else got the CPU first
            wake.set(true);
            Os.signalThread(tid, VcpuCore.WAKE_SIGNAL);
        });
        onThread(() -> {
            core.halt(() -> competitor.submit(hold), wake::get);
            return null;
        });
        hold.await();
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
        return "kvm vCPU " + index + " (thread " + core.tid() + ", cpu " + cpu() + ")";
    }
}
