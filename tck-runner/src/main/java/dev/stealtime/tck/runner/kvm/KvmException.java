package dev.stealtime.tck.runner.kvm;

/** A system call the kvm provider depends on failed; carries the errno. */
public final class KvmException extends IllegalStateException {

    private final int errno;

    public KvmException(String what, int errno) {
        super(what + ": " + Os.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public KvmException(String message) {
        super(message);
        this.errno = 0;
    }

    /** The errno, or 0 when the failure was not a failed system call. */
    public int errno() {
        return errno;
    }
}
