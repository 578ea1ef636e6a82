package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.util.ArrayList;
import java.util.List;

/**
 * Thread and process plumbing on top of {@link LibC}: errno to exceptions, thread ids, CPU
 * affinity, real-time priority, signal masks. Every "current thread" method acts on the calling OS
 * thread only (Linux scheduling attributes are per thread).
 */
final class Os {

    private static final LibC C = LibC.INSTANCE;

    private Os() {
    }

    static String strerror(int errno) {
        try {
            return C.strerror(errno);
        } catch (RuntimeException | LinkageError e) {
            return "errno " + errno;
        }
    }

    /** Throws with errno when {@code rc} is negative; otherwise returns it. */
    static int check(int rc, String what) {
        if (rc < 0) {
            throw new KvmException(what, Native.getLastError());
        }
        return rc;
    }

    static int gettid() {
        return (int) C.syscall(LibC.SYS_GETTID);
    }

    static int getpid() {
        return C.getpid();
    }

    /** Sends {@code sig} to one thread of this process ({@code tgkill}). */
    static void signalThread(int tid, int sig) {
        long rc = C.syscall(LibC.SYS_TGKILL, getpid(), tid, sig);
        if (rc < 0) {
            throw new KvmException("tgkill(" + tid + ", " + sig + ")", Native.getLastError());
        }
    }

    /** The CPUs the calling thread may run on, ascending. */
    static List<Integer> allowedCpus() {
        Memory mask = new Memory(LibC.CPUSET_BYTES);
        mask.clear();
        check(C.sched_getaffinity(0, LibC.CPUSET_BYTES, mask), "sched_getaffinity");
        List<Integer> cpus = new ArrayList<>();
        for (int cpu = 0; cpu < LibC.CPUSET_BYTES * 8; cpu++) {
            if ((mask.getByte(cpu / 8) & (1 << (cpu % 8))) != 0) {
                cpus.add(cpu);
            }
        }
        return cpus;
    }

    /** Pins the calling thread to one CPU. */
    static void pinCurrentThread(int cpu) {
        Memory mask = new Memory(LibC.CPUSET_BYTES);
        mask.clear();
        mask.setByte(cpu / 8, (byte) (1 << (cpu % 8)));
        check(C.sched_setaffinity(0, LibC.CPUSET_BYTES, mask), "sched_setaffinity(cpu " + cpu + ")");
    }

    /**
     * Makes the calling thread SCHED_FIFO at {@code priority}. Returns false (and leaves the thread
     * as it was) when that is not permitted, e.g. without CAP_SYS_NICE or in a cgroup without a
     * real-time budget.
     */
    static boolean makeCurrentThreadFifo(int priority) {
        Memory param = new Memory(4);
        param.setInt(0, priority);
        return C.sched_setscheduler(0, LibC.SCHED_FIFO, param) == 0;
    }

    /**
     * Sets the nice value of the calling thread. Returns false when not permitted (lowering nice
     * below the current value needs CAP_SYS_NICE or RLIMIT_NICE).
     */
    static boolean niceCurrentThread(int nice) {
        return C.setpriority(LibC.PRIO_PROCESS, gettid(), nice) == 0;
    }

    /** A glibc {@code sigset_t} holding just {@code sig}. */
    static Memory sigset(int sig) {
        Memory set = new Memory(LibC.SIGSET_BYTES);
        set.clear();
        set.setByte((sig - 1) / 8, (byte) (1 << ((sig - 1) % 8)));
        return set;
    }

    /** Blocks {@code sig} in the calling thread and returns the thread's resulting mask. */
    static Memory blockSignal(int sig) {
        Memory now = new Memory(LibC.SIGSET_BYTES);
        now.clear();
        int err = C.pthread_sigmask(LibC.SIG_BLOCK, sigset(sig), now);
        if (err != 0) {
            throw new KvmException("pthread_sigmask", err);
        }
        // pthread_sigmask hands back the previous mask; the new one is that plus sig
        now.setByte((sig - 1) / 8, (byte) (now.getByte((sig - 1) / 8) | (1 << ((sig - 1) % 8))));
        return now;
    }

    /**
     * Takes a pending {@code sig} off the calling thread without delivering it (it must be blocked).
     * Returns true when one was pending.
     */
    static boolean consumePendingSignal(int sig) {
        Memory zero = new Memory(16); // struct timespec {0, 0}: do not wait
        zero.clear();
        Memory info = new Memory(128); // siginfo_t
        return C.sigtimedwait(sigset(sig), info, zero) == sig;
    }

    static boolean isMapFailed(Pointer p) {
        return p == null || Pointer.nativeValue(p) == -1L;
    }
}
