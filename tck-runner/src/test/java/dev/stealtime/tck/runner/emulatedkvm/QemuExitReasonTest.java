package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.HostRequirement;
import dev.stealtime.tck.runner.host.HostKvm;
import dev.stealtime.tck.runner.host.PrivateFiles;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A QEMU that exits before its guest boots is reported as such, at once, with its exit status and
 * its own error line, not as a kernel that did not reach /init within the boot timeout.
 */
public class QemuExitReasonTest {

    @Test
    public void qemuThatExitsAtOnceIsSaidToHaveExited() throws IOException {
        HostRequirement.requireOrSkip(Guest.X86_64.providerId, "QEMU's own exit reason", "qemu-system-x86");
        Path dir = PrivateFiles.tempDir("qemu-exit-test");
        try {
            Path initrd = Files.writeString(dir.resolve("initrd"), "");
            Path machine = Files.createDirectory(dir.resolve("m"));
            Guest.Accelerator tcg = Guest.X86_64.accelerator(
                    new HostKvm("x86_64", "none", null, null, Optional.empty(), false), "tcg");
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> EmulatedMachine.boot(Guest.X86_64, tcg, dir.resolve("no-such-kernel"), initrd, machine))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("qemu-system-x86_64 exited with status 1 before the guest booted: "
                            + "qemu: could not open kernel file")
                    .hasMessageNotContaining("within 180 s");
            assertThat((System.nanoTime() - t0) / 1e9).as("seconds until the reason").isLessThan(30);
        } finally {
            PrivateFiles.deleteTree(dir);
        }
    }
}
