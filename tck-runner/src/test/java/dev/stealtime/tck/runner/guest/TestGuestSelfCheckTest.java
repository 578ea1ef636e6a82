package dev.stealtime.tck.runner.guest;

import dev.stealtime.tck.runner.HostRequirement;
import org.testng.annotations.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test guest (src/main/native/guest), built for each architecture and booted under QEMU with an
 * emulated CPU (TCG, no KVM needed) by its own {@code selfcheck.sh}: every request of the serial
 * protocol answered as docs/test-guest-protocol.md says — bad lines, vCPU addressing, run and idle
 * durations, memory, and the fault paths TCG has (arm64: an abort at QEMU's PV-time address).
 * A few seconds each. Skipped, saying which packages, where QEMU or the compiler is missing.
 */
public class TestGuestSelfCheckTest {

    private static final Path SELFCHECK = Path.of("src/main/native/guest/selfcheck.sh");

    @Test
    public void x86UnderTcgAnswersTheProtocol() throws Exception {
        HostRequirement.requireOrSkip("kvm-x86-emulated", "the x86-64 test guest under QEMU (TCG)",
                "qemu-system-x86", "gcc");
        selfcheck("x86_64");
    }

    @Test
    public void arm64UnderTcgAnswersTheProtocol() throws Exception {
        HostRequirement.requireOrSkip("kvm-arm64", "the arm64 test guest under QEMU (TCG)",
                "qemu-system-arm", "gcc-aarch64-linux-gnu");
        selfcheck("arm64");
    }

    private static void selfcheck(String arch) throws Exception {
        File log = Files.createTempFile("tck-guest-selfcheck-", ".log").toFile();
        try {
            Process p = new ProcessBuilder("bash", SELFCHECK.toString(), arch, "tcg")
                    .redirectErrorStream(true).redirectOutput(log).start();
            boolean ended = p.waitFor(3, TimeUnit.MINUTES);
            if (!ended) {
                p.destroy();                        // TERM: selfcheck.sh's trap stops its QEMU
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                }
            }
            String out = Files.readString(log.toPath(), StandardCharsets.UTF_8);
            assertThat(ended).as("selfcheck.sh %s ended within 3 minutes: %s", arch, out).isTrue();
            assertThat(p.exitValue()).as("selfcheck.sh %s tcg: %s", arch, out).isZero();
            assertThat(out).contains("PASS: " + arch + " tcg");
        } finally {
            Files.deleteIfExists(log.toPath());
        }
    }
}
