package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * QEMU on this host with its {@code /dev/kvm}: a process of its own, with a private directory (0700:
 * the RAM files, the QMP socket, QEMU's stderr) removed at {@link #close}, and a competitor helper
 * process beside it.
 */
final class LocalQemu implements QemuProcess {

    private final Path dir;
    private final Process qemu;
    private final Competitor competitor;
    private final List<SharedRam.Backing> backings;

    private LocalQemu(Path dir, Process qemu, Competitor competitor, List<SharedRam.Backing> backings) {
        this.dir = dir;
        this.qemu = qemu;
        this.competitor = competitor;
        this.backings = backings;
    }

    /** Runs {@code qemu} with {@code command}, the test guest {@code guest} and the competitor {@code competitorBinary}. */
    static QemuLauncher launcher(Path qemu, QemuCommand command, Path guest, Path competitorBinary, Defect defect) {
        return new QemuLauncher() {
            private Path snapshots;

            @Override
            public QemuProcess launch(VmSpec spec, List<String> extra) throws IOException {
                return start(qemu, command, guest, competitorBinary, spec, extra, defect);
            }

            @Override
            public synchronized String snapshotPath() throws IOException {
                if (snapshots == null) {
                    snapshots = PrivateFiles.tempDir(QemuCommand.scratchParent(), "tck-qemu-snapshot-");
                }
                return snapshots.resolve("state").toString();
            }

            @Override
            public synchronized void dropSnapshot() {
                if (snapshots != null) {
                    PrivateFiles.deleteTree(snapshots);
                    snapshots = null;
                }
            }

            @Override
            public String where() {
                return "this host's /dev/kvm";
            }

            @Override
            public Duration shortestIdle() {
                return QemuProvider.TOLERANCE;
            }

            @Override
            public void close() {
                dropSnapshot();            // nothing runs between launches
            }
        };
    }

    private static LocalQemu start(Path binary, QemuCommand command, Path guest, Path competitorBinary, VmSpec spec,
                                   List<String> extra, Defect defect) throws IOException {
        Path dir = PrivateFiles.tempDir(QemuCommand.scratchParent(), "tck-qemu-");
        Competitor competitor = null;
        try {
            List<SharedRam.Backing> backings = new ArrayList<>();
            backings.add(new SharedRam.Backing(0, QemuCommand.RAM_BYTES, dir.resolve("ram")));
            int n = 0;
            for (MemoryRegion r : QemuCommand.dimms(spec)) {
                backings.add(new SharedRam.Backing(r.gpa(), r.size(), dir.resolve("dimm" + n++)));
            }
            List<String> args = new ArrayList<>();
            args.add(binary.toString());
            args.addAll(command.args(spec, guest.toString(), backings.stream().map(b -> b.file().toString()).toList(),
                    List.of("-qmp", "unix:" + dir.resolve("qmp") + ",server=on,wait=off")));
            args.addAll(extra);
            competitor = Competitor.start(competitorBinary);
            ProcessBuilder pb = new ProcessBuilder(args).redirectError(dir.resolve("qemu.err").toFile());
            pb.environment().remove(Defect.ENV);
            if (defect != null) {
                pb.environment().put("LD_PRELOAD", defect.library().toString());
                pb.environment().put(Defect.ENV, defect.name());
            }
            Process qemu = pb.start();
            return new LocalQemu(dir, qemu, competitor, List.copyOf(backings));
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
        return "qemu " + qemu.pid();
    }

    @Override
    public InputStream fromGuest() {
        return qemu.getInputStream();
    }

    @Override
    public OutputStream toGuest() {
        return qemu.getOutputStream();
    }

    @Override
    public Map<Integer, Integer> vcpuThreads(Duration timeout) throws IOException {
        return Qmp.vcpuThreads(dir.resolve("qmp"), timeout);
    }

    @Override
    public String qmp(String json, Duration timeout) throws IOException {
        return Qmp.execute(dir.resolve("qmp"), json, timeout);
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

    /** Read straight from {@code /proc/QEMU/task/TID/schedstat}. */
    @Override
    public long runDelayNanos(int tid) throws IOException {
        Path schedstat = Path.of("/proc", Long.toString(qemu.pid()), "task", Integer.toString(tid), "schedstat");
        try {
            return Long.parseLong(Files.readString(schedstat).trim().split("\\s+")[1]);
        } catch (RuntimeException e) {
            throw new IOException(schedstat + ": " + e, e);
        }
    }

    @Override
    public boolean alive() {
        return qemu.isAlive();
    }

    @Override
    public String stderrTail() {
        try {
            Path f = dir.resolve("qemu.err");
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
        qemu.destroy();
        try {
            if (!qemu.waitFor(3, TimeUnit.SECONDS)) {
                qemu.destroyForcibly().waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            qemu.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        competitor.close();
        PrivateFiles.deleteTree(dir);
    }
}
