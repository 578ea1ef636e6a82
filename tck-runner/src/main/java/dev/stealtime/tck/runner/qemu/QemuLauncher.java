package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * Where the qemu provider runs QEMU: on this host with its {@code /dev/kvm} ({@link LocalQemu#launcher}),
 * or inside emulated machines whose own KVM runs it ({@link MachinePool}).
 */
interface QemuLauncher extends AutoCloseable {

    /** Starts QEMU with the test guest for {@code spec}; on failure nothing is left running. */
    default QemuProcess launch(VmSpec spec) throws IOException {
        return launch(spec, List.of());
    }

    /** The same with {@code extra} arguments for QEMU (a restore: {@code -incoming defer}). */
    QemuProcess launch(VmSpec spec, List<String> extra) throws IOException;

    /**
     * Where QEMU saves a VM's state for {@link QemuVm#saveAndRestore()} (a path as that QEMU sees
     * it); the next launch here may restore from it. {@link #dropSnapshot} removes it.
     */
    String snapshotPath() throws IOException;

    /** Removes the saved state, if any. Never throws. */
    void dropSnapshot();

    /**
     * A channel for a live migration ({@link QemuVm#liveMigrate()}) from {@code source} to
     * {@code destination}, both launched here and running.
     */
    MigrationChannel migrationChannel(QemuProcess source, QemuProcess destination) throws IOException;

    /** Where, for the provider's description: {@code this host's /dev/kvm}, or the emulated machine. */
    String where();

    /**
     * The shortest halt the competitor reliably catches (and the provider's timing tolerance): a
     * shorter {@code idle} is stretched to it, so the CPU is contended while the vCPU thread sleeps.
     */
    Duration shortestIdle();

    /**
     * Guest time a preemption's busy run lasts beyond the hold: the competitor must see the vCPU
     * thread running before it holds the CPU, so the run must outlast how long that takes here.
     */
    default Duration preemptMargin() {
        return Duration.ofMillis(4);
    }

    /** Stops whatever this launcher keeps running between launches. Idempotent. */
    @Override
    void close();
}
