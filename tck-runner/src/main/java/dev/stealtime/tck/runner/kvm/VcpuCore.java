package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;

import java.util.function.BooleanSupplier;

/**
 * One KVM vCPU as its own thread sees it: the vCPU fd, the shared {@code kvm_run} page and the
 * guest entry points of {@link GuestCode}. Every method except {@link #tid()} must be called on
 * the thread that created it (see {@link VcpuThread}).
 *
 * <p>Signals: {@link #WAKE_SIGNAL} is blocked in the vCPU thread at all times, except inside
 * {@code KVM_RUN} where {@code KVM_SET_SIGNAL_MASK} unblocks it. A {@code tgkill} with it therefore
 * ends a {@code KVM_RUN} (also one blocked in a guest HLT) with {@code EINTR}, yet is never
 * delivered to a handler: it stays pending once the ioctl returns and is taken off with
 * {@code sigtimedwait}. No JVM signal handling is involved.
 */
final class VcpuCore {

    /** SIGRTMIN+27 (glibc numbering): a real-time signal the JVM does not use. */
    static final int WAKE_SIGNAL = 61;

    /**
     * Nice value of vCPU threads where permitted: unrelated SCHED_OTHER load on the vCPU's CPU then
     * rarely delays it, so the steal the TCK sees is mostly the steal it induced. The SCHED_FIFO
     * {@link Competitor} still preempts it outright.
     */
    static final int VCPU_NICE = -20;

    /** {@link #runOnce()} result when a signal ended KVM_RUN. */
    static final int INTERRUPTED = -1;

    private static final int EINTR = 4;
    private static final long TICK_NANOS = 1_000_000;      // aim: one busy-loop exit per ms of guest time
    private static final long MIN_LOOPS = 1_000;
    private static final long MAX_LOOPS = 1_000_000_000L;

    private final int index;
    private final int fd;
    private final int tid;
    private final Pointer run;
    private final long runSize;
    private final Memory regs = new Memory(Kvm.REGS_SIZE);
    private long loopsPerTick = 100_000;

    private VcpuCore(int index, int fd, int tid, Pointer run, long runSize) {
        this.index = index;
        this.fd = fd;
        this.tid = tid;
        this.run = run;
        this.runSize = runSize;
    }

    /**
     * Creates vCPU {@code index} owned by the calling thread, pinned to {@code cpu}, in real mode at
     * CS = 0, with the given CPUID; when steal time is withheld, KVM is told to enforce the PV CPUID
     * bits so the MSR faults.
     */
    static VcpuCore create(int vmFd, int index, int cpu, long runSize, Cpuid cpuid, boolean stealOffered) {
        int tid = Os.gettid();
        Os.pinCurrentThread(cpu);
        Os.niceCurrentThread(VCPU_NICE); // best effort: fewer accidental delays from unrelated load
        Memory threadMask = Os.blockSignal(WAKE_SIGNAL);
        int fd = Kvm.ioctl(vmFd, Kvm.CREATE_VCPU, index, "KVM_CREATE_VCPU " + index);
        Pointer run = null;
        try {
            run = LibC.INSTANCE.mmap(null, runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
            if (Os.isMapFailed(run)) {
                run = null;
                throw new KvmException("mmap kvm_run of vCPU " + index, Native.getLastError());
            }
            cpuid.applyTo(fd);
            if (!stealOffered) {
                Memory cap = new Memory(Kvm.ENABLE_CAP_SIZE);
                cap.clear();
                cap.setInt(0, Kvm.CAP_ENFORCE_PV_FEATURE_CPUID);
                cap.setLong(8, 1);                                  // args[0] = 1: enforce
                Kvm.ioctl(fd, Kvm.ENABLE_CAP, cap, "KVM_ENABLE_CAP KVM_CAP_ENFORCE_PV_FEATURE_CPUID");
            }
            enterRealModeAtZero(fd);
            Memory sigmask = new Memory(4 + 8);                     // struct kvm_signal_mask { u32 len; u8 sigset[8]; }
            sigmask.setInt(0, 8);
            sigmask.setLong(4, threadMask.getLong(0) & ~(1L << (WAKE_SIGNAL - 1)));
            Kvm.ioctl(fd, Kvm.SET_SIGNAL_MASK, sigmask, "KVM_SET_SIGNAL_MASK");
            setRunnable(fd);                                        // application processors start "uninitialized"
            VcpuCore core = new VcpuCore(index, fd, tid, run, runSize);
            core.calibrate();
            return core;
        } catch (RuntimeException e) {
            if (run != null) {
                LibC.INSTANCE.munmap(run, runSize);
            }
            LibC.INSTANCE.close(fd);
            throw e;
        }
    }

    /** The reset state has CS base 0xffff0000; our code lives at segment 0. */
    private static void enterRealModeAtZero(int fd) {
        Memory sregs = new Memory(Kvm.SREGS_SIZE);
        Kvm.ioctl(fd, Kvm.GET_SREGS, sregs, "KVM_GET_SREGS");
        sregs.setLong(Kvm.SREG_CS_BASE, 0);
        sregs.setShort(Kvm.SREG_CS_SELECTOR, (short) 0);
        Kvm.ioctl(fd, Kvm.SET_SREGS, sregs, "KVM_SET_SREGS");
    }

    private static void setRunnable(int fd) {
        Memory mp = new Memory(4);
        mp.setInt(0, Kvm.MP_STATE_RUNNABLE);
        Kvm.ioctl(fd, Kvm.SET_MP_STATE, mp, "KVM_SET_MP_STATE");
    }

    int tid() {
        return tid;
    }

    // --------------------------------------------------------------------------------- guest requests

    MsrResult wrmsr(int msr, long value) {
        start(GuestCode.WRMSR, value & 0xffffffffL, 0, msr & 0xffffffffL, value >>> 32);
        int port = runToReport();
        return switch (port) {
            case GuestCode.PORT_DONE -> MsrResult.ok();
            case GuestCode.PORT_GP -> MsrResult.gp();
            default -> throw unexpectedReport(port, "WRMSR");
        };
    }

    MsrResult rdmsr(int msr) {
        start(GuestCode.RDMSR, 0, 0, msr & 0xffffffffL, 0);
        int port = runToReport();
        return switch (port) {
            case GuestCode.PORT_DONE -> {
                readRegs();
                yield MsrResult.ok((reg(Kvm.REG_RDX) << 32) | (reg(Kvm.REG_RAX) & 0xffffffffL));
            }
            case GuestCode.PORT_GP -> MsrResult.gp();
            default -> throw unexpectedReport(port, "RDMSR");
        };
    }

    CpuidResult cpuid(int leaf) {
        start(GuestCode.CPUID, leaf & 0xffffffffL, 0, 0, 0);
        int port = runToReport();
        if (port != GuestCode.PORT_DONE) {
            throw unexpectedReport(port, "CPUID");
        }
        readRegs();
        return new CpuidResult((int) reg(Kvm.REG_RAX), (int) reg(Kvm.REG_RBX), (int) reg(Kvm.REG_RCX),
                (int) reg(Kvm.REG_RDX));
    }

    /**
     * Runs the guest busy loop until {@code stop} says so; {@code stop} is asked after every tick
     * (about 1 ms of guest time). The loop always runs at least one tick.
     */
    void busy(Runnable started, BooleanSupplier stop) {
        start(GuestCode.BUSY, 0, loopsPerTick, 0, 0);
        started.run();
        long fastestTick = Long.MAX_VALUE;
        do {
            long t0 = System.nanoTime();
            int port = runToReport();
            if (port != GuestCode.PORT_TICK) {
                throw unexpectedReport(port, "busy loop");
            }
            fastestTick = Math.min(fastestTick, System.nanoTime() - t0);
        } while (!stop.getAsBoolean());
        retune(fastestTick);
    }

    /** Aims the next busy loop at {@link #TICK_NANOS} per exit, moving by at most 4x per call. */
    private void retune(long fastestTick) {
        double factor = Math.max(0.25, Math.min(4.0, (double) TICK_NANOS / Math.max(1, fastestTick)));
        loopsPerTick = Math.max(MIN_LOOPS, Math.min(MAX_LOOPS, (long) (loopsPerTick * factor)));
    }

    /**
     * Finds how many iterations of the busy loop make about a millisecond on this host (the guest
     * may run natively or, e.g. for real mode under some nested setups, through KVM's emulator).
     */
    private void calibrate() {
        loopsPerTick = MIN_LOOPS;
        for (int round = 0; round < 8; round++) {
            start(GuestCode.BUSY, 0, loopsPerTick, 0, 0);
            long fastest = Long.MAX_VALUE;
            for (int tick = 0; tick < 3; tick++) {
                long t0 = System.nanoTime();
                int port = runToReport();
                if (port != GuestCode.PORT_TICK) {
                    throw unexpectedReport(port, "calibration");
                }
                fastest = Math.min(fastest, System.nanoTime() - t0);
            }
            if (fastest > TICK_NANOS / 2 && fastest < TICK_NANOS * 2) {
                return;
            }
            double factor = Math.max(1.0 / 64, Math.min(64.0, (double) TICK_NANOS / Math.max(1, fastest)));
            loopsPerTick = Math.max(MIN_LOOPS, Math.min(MAX_LOOPS, (long) (loopsPerTick * factor)));
        }
    }

    /**
     * The guest executes HLT; with the in-kernel irqchip the thread blocks inside KVM_RUN (not
     * runnable: no run_delay) until a {@link #WAKE_SIGNAL} arrives and {@code wake} is true.
     */
    void halt(Runnable halting, BooleanSupplier wake) {
        start(GuestCode.HALT, 0, 0, 0, 0);
        halting.run();
        while (true) {
            int port = runOnce();
            if (port == INTERRUPTED) {
                Os.consumePendingSignal(WAKE_SIGNAL);
                if (wake.getAsBoolean()) {
                    break;
                }
            } else if (port != GuestCode.PORT_WOKE) {
                throw unexpectedReport(port, "HLT");
            }
        }
        setRunnable(fd); // KVM still has the vCPU halted; the next request must run
    }

    // --------------------------------------------------------------------------------- host MSR path

    /** {@code KVM_SET_MSRS} with one entry: true iff KVM wrote it. */
    boolean hostSetMsr(int msr, long value) {
        Memory m = msrs(msr, value);
        return Kvm.ioctl(fd, Kvm.SET_MSRS, m, "KVM_SET_MSRS") == 1;
    }

    /** {@code KVM_GET_MSRS} with one entry. */
    long hostGetMsr(int msr) {
        Memory m = msrs(msr, 0);
        int n = Kvm.ioctl(fd, Kvm.GET_MSRS, m, "KVM_GET_MSRS");
        if (n != 1) {
            throw new IllegalStateException(String.format("KVM_GET_MSRS refused MSR 0x%x (read %d of 1)", msr, n));
        }
        return m.getLong(Kvm.MSRS_HEADER + 8);
    }

    private static Memory msrs(int msr, long value) {
        Memory m = new Memory(Kvm.MSRS_HEADER + Kvm.MSR_ENTRY_SIZE);
        m.clear();
        m.setInt(0, 1);                          // nmsrs
        m.setInt(Kvm.MSRS_HEADER, msr);          // entries[0].index
        m.setLong(Kvm.MSRS_HEADER + 8, value);   // entries[0].data
        return m;
    }

    // --------------------------------------------------------------------------------- running

    /** Loads the registers for a fresh request at {@code rip} (real mode, IF = 0, own stack). */
    private void start(int rip, long rax, long rbx, long rcx, long rdx) {
        regs.clear();
        regs.setLong(Kvm.REG_RAX, rax);
        regs.setLong(Kvm.REG_RBX, rbx);
        regs.setLong(Kvm.REG_RCX, rcx);
        regs.setLong(Kvm.REG_RDX, rdx);
        regs.setLong(Kvm.REG_RSP, GuestCode.stackTop(index));
        regs.setLong(Kvm.REG_RIP, rip);
        regs.setLong(Kvm.REG_RFLAGS, 0x2);       // bit 1 is always set; IF = 0
        Kvm.ioctl(fd, Kvm.SET_REGS, regs, "KVM_SET_REGS");
    }

    private void readRegs() {
        Kvm.ioctl(fd, Kvm.GET_REGS, regs, "KVM_GET_REGS");
    }

    private long reg(int offset) {
        return regs.getLong(offset);
    }

    /** Runs until the guest reports through an OUT; a signal (stale wake-up, JVM) just re-enters. */
    private int runToReport() {
        while (true) {
            int port = runOnce();
            if (port != INTERRUPTED) {
                return port;
            }
            Os.consumePendingSignal(WAKE_SIGNAL);
        }
    }

    /** One KVM_RUN: the port of the guest's OUT, or {@link #INTERRUPTED}. Other exits are errors. */
    private int runOnce() {
        int rc = LibC.INSTANCE.ioctl(fd, Kvm.RUN, 0L);
        if (rc < 0) {
            int errno = Native.getLastError();
            if (errno == EINTR) {
                return INTERRUPTED;
            }
            throw new KvmException("KVM_RUN on vCPU " + index, errno);
        }
        int reason = run.getInt(Kvm.RUN_EXIT_REASON);
        if (reason == Kvm.EXIT_IO && run.getByte(Kvm.RUN_IO_DIRECTION) == 1) {
            return run.getShort(Kvm.RUN_IO_PORT) & 0xffff;
        }
        if (reason == Kvm.EXIT_INTR) {
            return INTERRUPTED;
        }
        readRegs();
        String detail = switch (reason) {
            case Kvm.EXIT_FAIL_ENTRY -> String.format(", hardware reason 0x%x", run.getLong(Kvm.RUN_HW_REASON));
            case Kvm.EXIT_INTERNAL_ERROR -> ", suberror " + run.getInt(Kvm.RUN_HW_REASON);
            default -> "";
        };
        throw new IllegalStateException(String.format("vCPU %d: unexpected %s at RIP 0x%x%s",
                index, Kvm.exitName(reason), reg(Kvm.REG_RIP), detail));
    }

    private IllegalStateException unexpectedReport(int port, String during) {
        if (port == GuestCode.PORT_EXCEPTION) {
            long data = run.getLong(Kvm.RUN_IO_DATA_OFFSET);
            int vector = run.getByte(data) & 0xff;
            return new IllegalStateException(String.format("vCPU %d: guest took exception vector %d during %s",
                    index, vector, during));
        }
        return new IllegalStateException(String.format("vCPU %d: unexpected guest OUT to port 0x%x during %s",
                index, port, during));
    }

    /** Releases the kvm_run mapping and the vCPU fd. */
    void close() {
        LibC.INSTANCE.munmap(run, runSize);
        LibC.INSTANCE.close(fd);
    }
}
