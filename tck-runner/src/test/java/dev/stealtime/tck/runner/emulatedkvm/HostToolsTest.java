package dev.stealtime.tck.runner.emulatedkvm;

import org.testng.annotations.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code tck providers} names the Debian packages that bring what an emulated machine needs. */
public class HostToolsTest {

    @Test
    public void namesThePackageOfEveryMissingCommandOnce() throws Exception {
        Path empty = Files.createTempDirectory("tck-empty-path-");
        try {
            assertThat(HostTools.missingPackages(Guest.ARM64, empty.toString()))
                    .as("with nothing on PATH")
                    .containsSubsequence("qemu-system-arm", "gcc-aarch64-linux-gnu", "cpio", "apt", "dpkg")
                    .doesNotHaveDuplicates();
            assertThat(HostTools.missingPackages(Guest.X86_64, empty.toString()))
                    .as("x86 with nothing on PATH")
                    .containsSubsequence("qemu-system-x86", "gcc", "cpio", "apt", "dpkg")
                    .doesNotHaveDuplicates();
        } finally {
            Files.delete(empty);
        }
    }

    @Test
    public void aCommandFoundOnThePathIsNotMissing() throws Exception {
        Path dir = Files.createTempDirectory("tck-fake-path-");
        Path qemu = dir.resolve("qemu-system-aarch64");
        try {
            Files.createFile(qemu, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            assertThat(HostTools.missingPackages(Guest.ARM64, dir.toString())).doesNotContain("qemu-system-arm").contains("gcc-aarch64-linux-gnu");
        } finally {
            Files.deleteIfExists(qemu);
            Files.delete(dir);
        }
    }
}
