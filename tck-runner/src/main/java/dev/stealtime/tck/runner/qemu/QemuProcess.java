package dev.stealtime.tck.runner.qemu;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One QEMU running the test guest, wherever it runs: on this host ({@link LocalQemu}) or inside an
 * emulated machine ({@link InnerQemu}). {@link QemuVm} drives the guest through it the same way in
 * both places.
 */
interface QemuProcess extends AutoCloseable {

    /** For messages: {@code qemu 1234}, or {@code qemu 137 in emulated machine 1}. */
    String name();

    /** The guest's serial port, as QEMU's {@code -serial stdio} writes it. */
    InputStream fromGuest();

    /** What the guest reads from its serial port. */
    OutputStream toGuest();

    /** cpu-index to thread id of every vCPU ({@code query-cpus-fast} on QEMU's monitor). */
    Map<Integer, Integer> vcpuThreads(Duration timeout) throws IOException;

    /** Runs one QMP command ({@code json}) on QEMU's monitor and returns its {@code return} line. */
    String qmp(String json, Duration timeout) throws IOException;

    /** The competitor helper beside this QEMU (same kernel, same thread ids). */
    Competitor competitor();

    /** The files behind guest RAM, on this host: what the TCK maps. */
    List<SharedRam.Backing> backings();

    /** How many CPUs the vCPU threads are spread over. */
    int cpus();

    /** Field 2 of the thread's {@code schedstat}: its run delay, what KVM reports as steal. */
    long runDelayNanos(int tid) throws IOException;

    /** A thread of QEMU as its kernel sees it (state, time on the CPU, run delay), for failure messages. */
    ThreadSample threadSample(int tid) throws IOException;

    /** Whether QEMU still runs. */
    boolean alive();

    /** The last few hundred characters QEMU wrote to stderr, on one line ("" when none). */
    String stderrTail();

    /** Stops QEMU and the competitor, removes what they left. Idempotent, never throws. */
    @Override
    void close();
}
