package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** A launcher whose VMM runs on this host with its {@code /dev/kvm} ({@link LocalQemu}, a recipe's VMM): nothing runs between launches. */
abstract class HostLauncher implements QemuLauncher {

    @Override
    public String where() {
        return "this host's /dev/kvm";
    }

    @Override
    public Duration shortestIdle() {
        return QemuProvider.TOLERANCE;
    }

    /** A Unix socket in a private directory of this host: the destination listens, the source connects. */
    @Override
    public MigrationChannel migrationChannel(QemuProcess source, QemuProcess destination) throws IOException {
        Path dir = PrivateFiles.tempDir(QemuCommand.scratchParent(), "tck-qemu-migration-");
        String uri = "unix:" + dir.resolve("stream");
        return new MigrationChannel() {
            @Override
            public String incoming() {
                return uri;
            }

            @Override
            public String outgoing() {
                return uri;
            }

            @Override
            public void close() {
                PrivateFiles.deleteTree(dir);
            }
        };
    }

    /** Only the saved state, if any, outlives a VM here. */
    @Override
    public void close() {
        dropSnapshot();
    }
}
