package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A VMM process on this host with its {@code /dev/kvm} (QEMU, or a recipe's VMM): its private
 * directory (0700: the RAM files, sockets, the VMM's stderr as {@code vmm.err}) removed at
 * {@link #close}, and a competitor helper process beside it. Subclasses say how the vCPU threads are
 * found and whether there is a monitor.
 */
abstract class HostVmmProcess implements QemuProcess {

    /** The VMM's stderr, in its directory. */
    static final String STDERR = "vmm.err";

    final Path dir;
    final Process vmm;
    private final String label;
    private final Competitor competitor;
    private final List<SharedRam.Backing> backings;

    HostVmmProcess(String label, Path dir, Process vmm, Competitor competitor, List<SharedRam.Backing> backings) {
        this.label = label;
        this.dir = dir;
        this.vmm = vmm;
        this.competitor = competitor;
        this.backings = backings;
    }

    /** What starts the VMM in its private directory, beside its competitor. */
    interface Start<T extends HostVmmProcess> {
        T start(Path dir, Competitor competitor) throws IOException;
    }

    /**
     * Makes the VMM's private directory ({@code prefix}...) and starts the competitor, then
     * {@code start}; on any failure stops the competitor and removes the directory.
     */
    static <T extends HostVmmProcess> T starting(String prefix, Path competitorBinary, Start<T> start) throws IOException {
        Path dir = PrivateFiles.tempDir(QemuCommand.scratchParent(), prefix);
        Competitor competitor = null;
        try {
            competitor = Competitor.start(competitorBinary);
            return start.start(dir, competitor);
        } catch (IOException | RuntimeException e) {
            if (competitor != null) {
                competitor.close();
            }
            PrivateFiles.deleteTree(dir);
            throw e;
        }
    }

    @Override
    public String name() {
        return label + " " + vmm.pid();
    }

    @Override
    public InputStream fromGuest() {
        return vmm.getInputStream();
    }

    @Override
    public OutputStream toGuest() {
        return vmm.getOutputStream();
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
        return Runtime.getRuntime().availableProcessors();
    }

    /** Read straight from {@code /proc/VMM/task/TID/schedstat}. */
    @Override
    public long runDelayNanos(int tid) throws IOException {
        return schedstat(tid)[1];
    }

    @Override
    public ThreadSample threadSample(int tid) throws IOException {
        Path stat = task(tid).resolve("stat");
        long[] sched = schedstat(tid);
        try {
            String s = Files.readString(stat);
            return new ThreadSample(s.substring(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3), sched[0], sched[1]);
        } catch (RuntimeException e) {
            throw new IOException(stat + ": " + e, e);
        }
    }

    private Path task(int tid) {
        return Path.of("/proc", Long.toString(vmm.pid()), "task", Integer.toString(tid));
    }

    /** Fields 1 and 2 of the thread's {@code schedstat}: time on the CPU and run delay (ns). */
    private long[] schedstat(int tid) throws IOException {
        Path schedstat = task(tid).resolve("schedstat");
        try {
            String[] f = Files.readString(schedstat).trim().split("\\s+");
            return new long[]{Long.parseLong(f[0]), Long.parseLong(f[1])};
        } catch (RuntimeException e) {
            throw new IOException(schedstat + ": " + e, e);
        }
    }

    @Override
    public boolean alive() {
        return vmm.isAlive();
    }

    @Override
    public String stderrTail() {
        try {
            Path f = dir.resolve(STDERR);
            if (!Files.exists(f)) {
                return "";
            }
            String s = Files.readString(f).strip().replace('\n', ' ');
            return s.substring(Math.max(0, s.length() - 400));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    @Override
    public void close() {
        vmm.destroy();
        try {
            if (!vmm.waitFor(3, TimeUnit.SECONDS)) {
                vmm.destroyForcibly().waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            vmm.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        competitor.close();
        PrivateFiles.deleteTree(dir);
    }
}
