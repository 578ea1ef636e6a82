package dev.stealtime.tck.runner.qemu;

/**
 * The way a live migration's stream goes from one QEMU to another ({@link QemuLauncher#migrationChannel}):
 * the URI each is given. Closed once both said {@code completed} (or the migration failed).
 */
interface MigrationChannel extends AutoCloseable {

    /** For the destination's QMP {@code migrate-incoming}. */
    String incoming();

    /** For the source's QMP {@code migrate}. */
    String outgoing();

    /** Removes what the channel made. Never throws. */
    @Override
    void close();
}
