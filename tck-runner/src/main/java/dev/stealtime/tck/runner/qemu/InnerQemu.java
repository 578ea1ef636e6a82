package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.adapter.SocketStreams;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * QEMU inside an emulated machine ({@link QemuMachine}): its serial port and monitor reach this host
 * through the machine's ports, its guest RAM through the machine's shared files, its vCPU threads'
 * run delay through the machine's agent (they are the machine's threads, measured by its kernel, as
 * its KVM's steal time is).
 */
final class InnerQemu implements QemuProcess {

    private final QemuMachine machine;
    private final int pid;
    private final SocketChannel serial;
    private final SocketChannel qmp;
    private final SocketChannel migration;
    private final Competitor competitor;
    private final List<SharedRam.Backing> backings;
    private final Runnable whenClosed;
    private boolean closed;

    InnerQemu(QemuMachine machine, int pid, SocketChannel serial, SocketChannel qmp, SocketChannel migration, Competitor competitor,
              List<SharedRam.Backing> backings, Runnable whenClosed) {
        this.machine = machine;
        this.pid = pid;
        this.serial = serial;
        this.qmp = qmp;
        this.migration = migration;
        this.competitor = competitor;
        this.backings = backings;
        this.whenClosed = whenClosed;
    }

    @Override
    public String name() {
        return "qemu " + pid + " in emulated machine " + machine.number();
    }

    @Override
    public InputStream fromGuest() {
        return SocketStreams.input(serial);
    }

    @Override
    public OutputStream toGuest() {
        return SocketStreams.output(serial);
    }

    /**
     * The machine's migration port ({@code /dev/tck-migration} inside): what a live migration's
     * stream leaves or enters the machine by ({@link MachinePool#migrationChannel}).
     */
    SocketChannel migrationPort() {
        return migration;
    }

    /** Whether the monitor greeted us (and took {@code qmp_capabilities}) already: the first call does that. */
    private boolean greeted;

    @Override
    public synchronized Map<Integer, Integer> vcpuThreads(Duration timeout) throws IOException {
        if (greeted) {
            return Qmp.threads(Qmp.execute(qmp, "{\"execute\":\"query-cpus-fast\"}", timeout));
        }
        Map<Integer, Integer> threads = Qmp.vcpuThreads(qmp, timeout);
        greeted = true;
        return threads;
    }

    @Override
    public String qmp(String json, Duration timeout) throws IOException {
        return Qmp.execute(qmp, json, timeout);
    }

    @Override
    public Competitor competitor() {
        return competitor;
    }

    @Override
    public List<SharedRam.Backing> backings() {
        return backings;
    }

    @Override
    public int cpus() {
        return Integer.parseInt(machine.facts().getOrDefault("cpus", "1"));
    }

    @Override
    public long runDelayNanos(int tid) throws IOException {
        String a = machine.ask("rundelay " + tid);
        if (!a.startsWith("ok ")) {
            throw new IOException("run delay of thread " + tid + " in emulated machine " + machine.number() + ": " + a);
        }
        return Long.parseLong(a.substring(3).trim());
    }

    @Override
    public ThreadSample threadSample(int tid) throws IOException {
        String a = machine.ask("thread " + tid);
        if (!a.startsWith("ok ")) {
            throw new IOException("thread " + tid + " in emulated machine " + machine.number() + ": " + a);
        }
        return ThreadSample.parse(a.substring(3));
    }

    /** Asked of the machine's agent; a machine that is gone runs no QEMU. */
    @Override
    public boolean alive() {
        try {
            return machine.ask("alive").equals("ok yes");
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public String stderrTail() {
        try {
            String a = machine.ask("stderr");
            return a.startsWith("ok") ? a.substring(2).strip() : a;
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        machine.stopInner();
        competitor.close();
        QemuMachine.quietClose(serial);
        QemuMachine.quietClose(qmp);
        QemuMachine.quietClose(migration);
        whenClosed.run();
    }
}
