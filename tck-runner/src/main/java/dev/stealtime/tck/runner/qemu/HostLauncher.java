package dev.stealtime.tck.runner.qemu;

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

    /** Only the saved state, if any, outlives a VM here. */
    @Override
    public void close() {
        dropSnapshot();
    }
}
