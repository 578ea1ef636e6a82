package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * QEMU on this host with its {@code /dev/kvm}: a process of its own, with a private directory (0700:
 * the RAM files, the QMP socket, QEMU's stderr) removed at {@link #close}, and a competitor helper
 * process beside it; QMP names its vCPU threads.
 */
final class LocalQemu extends HostVmmProcess {

    private LocalQemu(Path dir, Process qemu, Competitor competitor, List<SharedRam.Backing> backings) {
        super("qemu", dir, qemu, competitor, backings);
    }

    /** Runs {@code qemu} with {@code command}, the test guest {@code guest} and the competitor {@code competitorBinary}. */
    static QemuLauncher launcher(Path qemu, QemuCommand command, Path guest, Path competitorBinary, Defect defect) {
        return new HostLauncher() {
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

        };
    }

    private static LocalQemu start(Path binary, QemuCommand command, Path guest, Path competitorBinary, VmSpec spec,
                                   List<String> extra, Defect defect) throws IOException {
        return starting("tck-qemu-", competitorBinary, (dir, competitor) -> {
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
            ProcessBuilder pb = new ProcessBuilder(args).redirectError(dir.resolve(STDERR).toFile());
            pb.environment().remove(Defect.ENV);
            if (defect != null) {
                pb.environment().put("LD_PRELOAD", defect.library().toString());
                pb.environment().put(Defect.ENV, defect.name());
            }
            return new LocalQemu(dir, pb.start(), competitor, List.copyOf(backings));
        });
    }

    @Override
    public Map<Integer, Integer> vcpuThreads(Duration timeout) throws IOException {
        return Qmp.vcpuThreads(dir.resolve("qmp"), timeout);
    }

    @Override
    public String qmp(String json, Duration timeout) throws IOException {
        return Qmp.execute(dir.resolve("qmp"), json, timeout);
    }
}
