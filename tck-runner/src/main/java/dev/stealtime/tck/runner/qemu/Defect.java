package dev.stealtime.tck.runner.qemu;

import java.nio.file.Path;

/**
 * A steal-time defect put into a real QEMU for the self-tests of the VMM rules: the interposer
 * {@code native/qemu/defects.c}, loaded with {@code LD_PRELOAD}, rewrites one kind of ioctl QEMU
 * makes, as {@code TCK_QEMU_DEFECT} names ({@code tck.qemu.defect}).
 *
 * @param name    one of {@code TckConfig.QEMU_DEFECTS} (docs/qemu-provider.md, "Defects put into a real QEMU")
 * @param library the interposer built for this host
 */
record Defect(String name, Path library) {

    /** The variable the interposer reads. */
    static final String ENV = "TCK_QEMU_DEFECT";
}
