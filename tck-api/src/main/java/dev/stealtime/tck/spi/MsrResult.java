package dev.stealtime.tck.spi;

/**
 * Outcome of a guest RDMSR/WRMSR: either it completed (with the value read, for RDMSR) or the
 * guest took a general-protection fault (#GP).
 */
public record MsrResult(boolean faulted, long value) {

    public static MsrResult ok(long value) {
        return new MsrResult(false, value);
    }

    public static MsrResult ok() {
        return new MsrResult(false, 0);
    }

    public static MsrResult gp() {
        return new MsrResult(true, 0);
    }

    @Override
    public String toString() {
        return faulted ? "#GP" : "ok(0x" + Long.toHexString(value) + ")";
    }
}
