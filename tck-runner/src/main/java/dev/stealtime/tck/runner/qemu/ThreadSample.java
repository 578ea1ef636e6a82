package dev.stealtime.tck.runner.qemu;

import java.io.IOException;

/**
 * A thread of QEMU as its kernel sees it ({@link QemuProcess#threadSample}), for failure messages.
 *
 * @param state         the state letter of {@code /proc/TID/stat} (R, S, D, ...)
 * @param onCpuNanos    field 1 of its {@code schedstat}: time on the CPU
 * @param runDelayNanos field 2 of its {@code schedstat}: time runnable but waiting for a CPU
 */
record ThreadSample(String state, long onCpuNanos, long runDelayNanos) {

    /** {@code STATE ON_CPU_NS RUN_DELAY_NS}, as the emulated machine's agent answers {@code thread TID}. */
    static ThreadSample parse(String words) throws IOException {
        String[] w = words.trim().split("\\s+");
        try {
            return new ThreadSample(w[0], Long.parseLong(w[1]), Long.parseLong(w[2]));
        } catch (RuntimeException e) {
            throw new IOException("expected 'STATE ON_CPU_NS RUN_DELAY_NS', seen '" + words + "'", e);
        }
    }
}
