package dev.stealtime.tck.runner.kvm;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The few libc functions the kvm provider needs, bound with JNA (no C of our own). Failures are
 * reported the C way (-1 and {@code errno}); read errno with {@link Native#getLastError()} right
 * after the call, on the same thread. {@link Os} wraps these into exceptions.
 *
 * <p>Values are Linux x86-64 (glibc) constants.
 */
public interface LibC extends Library {

    LibC INSTANCE = Native.load("c", LibC.class);

    int O_RDWR = 0x2;
    int O_CLOEXEC = 0x80000;

    int PROT_READ = 0x1;
    int PROT_WRITE = 0x2;
    int MAP_SHARED = 0x01;
    int MAP_ANONYMOUS = 0x20;

    int SCHED_OTHER = 0;
    int SCHED_FIFO = 1;

    int SIG_BLOCK = 0;
    int SIG_UNBLOCK = 1;

    long SYS_GETTID = 186;
    long SYS_TGKILL = 234;

    /** glibc's sigset_t and cpu_set_t are both 1024 bits. */
    int SIGSET_BYTES = 128;
    int CPUSET_BYTES = 128;

    int open(String path, int flags);

    int close(int fd);

    /** ioctl with a pointer argument (structs). */
    int ioctl(int fd, long request, Pointer arg);

    /** ioctl with an integer argument (or none: pass 0). */
    int ioctl(int fd, long request, long arg);

    Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    int munmap(Pointer addr, long length);

    long syscall(long number);

    long syscall(long number, long a1, long a2, long a3);

    int getpid();

    int PRIO_PROCESS = 0;

    /** With PRIO_PROCESS and a thread id, Linux sets that one thread's nice value. */
    int setpriority(int which, int who, int prio);

    int sched_getaffinity(int pid, long cpusetsize, Pointer mask);

    int sched_setaffinity(int pid, long cpusetsize, Pointer mask);

    /** {@code param} points at {@code struct sched_param { int sched_priority; }}. */
    int sched_setscheduler(int pid, int policy, Pointer param);

    /** Returns 0 or an error number (not -1/errno). */
    int pthread_sigmask(int how, Pointer set, Pointer oldset);

    int sigtimedwait(Pointer set, Pointer info, Pointer timeout);

    String strerror(int errnum);
}
