package dev.stealtime.tck.runner.emulatedkvm;

import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The parts of an emulated machine that need no emulator: what /init's READY line says, the console
 * tail without the firmware's terminal codes, which KVM modules a machine gets, and the appended
 * initramfs archive that carries them (read back with the host's cpio).
 */
public class MachinePartsTest {

    @Test
    public void theReadyLineIsReadInOrderAndTheConsoleLosesTerminalCodes() {
        Map<String, String> f = EmulatedMachine.facts("kernel=6.1.0-57-cloud-amd64|arch=x86_64|cpu=QEMU TCG CPU, flags: svm npt|modules=irqbypass kvm kvm-amd");
        assertThat(f.keySet()).containsExactly("kernel", "arch", "cpu", "modules");
        assertThat(f.get("cpu")).isEqualTo("QEMU TCG CPU, flags: svm npt");
        assertThat(EmulatedMachine.printable("\u001bc\u001b[?7l\u001b[2J\u001b[0mSeaBIOS (version 1.16.2)\r")).isEqualTo("SeaBIOS (version 1.16.2)");
    }

    @Test
    public void modulesUnderTestReplaceDebiansByNameAndAKernelOfOnesOwnGetsNoneOfDebians() throws Exception {
        Path dir = Files.createTempDirectory("tck-kvm-modules-test");
        try {
            Path stockDir = Files.createDirectories(dir.resolve("stock"));
            Map<String, Path> stock = new java.util.LinkedHashMap<>();
            for (String m : KvmModules.NAMES) {
                stock.put(m, Files.write(stockDir.resolve(m + ".ko"), ("debian " + m).getBytes(StandardCharsets.US_ASCII)));
            }
            Path mine = Files.createDirectories(dir.resolve("mine"));
            Files.write(mine.resolve("kvm.ko"), "mine kvm".getBytes(StandardCharsets.US_ASCII));
            Files.write(mine.resolve("kvm-amd.ko"), "mine kvm-amd".getBytes(StandardCharsets.US_ASCII));

            Map<String, KvmModules.Module> withDebian = KvmModules.select(mine, stock, true);
            assertThat(withDebian.keySet()).containsExactly("irqbypass", "kvm", "kvm-amd", "kvm-intel");
            assertThat(withDebian.get("kvm").origin()).isEqualTo("--kvm-modules");
            assertThat(withDebian.get("irqbypass").origin()).isEqualTo("Debian");
            assertThat(KvmModules.select(mine, stock, false).keySet()).as("own kernel").containsExactly("kvm", "kvm-amd");
            assertThat(KvmModules.select(null, stock, false)).as("own kernel, no modules").isEmpty();
            Path empty = Files.createDirectories(dir.resolve("empty"));
            Files.write(empty.resolve("other.ko"), new byte[]{1});
            assertThatThrownBy(() -> KvmModules.select(empty, stock, true)).hasMessageContaining("holds none of irqbypass.ko, kvm.ko");

            // the archive appended to the prepared initramfs: gzip'd newc that cpio lists and extracts
            Path base = Files.write(dir.resolve("base.gz"), gzip(new byte[0]));
            Path initrd = dir.resolve("initrd");
            KvmModules.appendTo(base, withDebian, initrd);
            byte[] all = Files.readAllBytes(initrd);
            Path second = Files.write(dir.resolve("second.cpio"), gunzip(java.util.Arrays.copyOfRange(all, (int) Files.size(base), all.length)));
            Path out = Files.createDirectories(dir.resolve("out"));
            Process p = new ProcessBuilder("cpio", "-idm", "--quiet", "-F", second.toString()).directory(out.toFile())
                    .redirectErrorStream(true).start();
            String msg = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as("cpio: %s", msg).isZero();
            assertThat(Files.readString(out.resolve("kvm-modules/kvm.ko"))).isEqualTo("mine kvm");
            assertThat(Files.readString(out.resolve("kvm-modules/irqbypass.ko"))).isEqualTo("debian irqbypass");
            try (var s = Files.list(out.resolve("kvm-modules"))) {
                assertThat(s.map(f -> f.getFileName().toString()).sorted().toList())
                        .isEqualTo(List.of("irqbypass.ko", "kvm-amd.ko", "kvm-intel.ko", "kvm.ko"));
            }
        } finally {
            EmulatedMachine.deleteTree(dir);
        }
    }

    private static byte[] gzip(byte[] data) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (var z = new java.util.zip.GZIPOutputStream(b)) {
            z.write(data);
        }
        return b.toByteArray();
    }

    private static byte[] gunzip(byte[] data) throws Exception {
        try (var z = new GZIPInputStream(new java.io.ByteArrayInputStream(data))) {
            return z.readAllBytes();
        }
    }
}
