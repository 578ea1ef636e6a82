package dev.stealtime.tck.runner.kvmarm64;

import dev.stealtime.tck.runner.replay.ConsoleRun;
import dev.stealtime.tck.runner.replay.SelftestResult;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The upstream KVM selftest {@code steal_time} on KVM/arm64, in the machine the kvm-arm64 provider
 * boots: the same QEMU command line ({@link EmulatedMachine#qemuCommand}) and kernel, with an
 * initramfs that runs the selftest instead of the adapter.
 */
public final class Arm64Selftest {

    private static final Duration TIMEOUT = Duration.ofMinutes(3);

    private Arm64Selftest() {
    }

    /**
     * @param image    the kernel Image under test
     * @param selftest the static arm64 {@code steal_time} built from the same tree
     * @param scripts  the replay scripts (selftest-initrd.sh, selftest-init)
     * @param work     a private directory for the initramfs, the socket and the console log
     */
    public static SelftestResult run(Path image, Path selftest, Path scripts, Path work) throws IOException {
        Path busybox = MachineImage.cacheDir().resolve("busybox");
        if (!Files.isRegularFile(busybox)) {
            return new SelftestResult("ERROR", -1, "no arm64 busybox in " + busybox + " (run the kvm-arm64 provider once)", 0);
        }
        Path initrd = work.resolve("selftest-initrd.cpio.gz");
        Process p = new ProcessBuilder("bash", scripts.resolve("selftest-initrd.sh").toString(), initrd.toString(),
                busybox.toString(), selftest.toString(), scripts.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (p.waitFor() != 0) {
                return new SelftestResult("ERROR", -1, "cannot pack the selftest initramfs: " + out.trim(), 0);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        List<String> command = EmulatedMachine.qemuCommand(image, initrd, work.resolve("unused.sock"));
        ConsoleRun.Result r = ConsoleRun.run(command, work.resolve("selftest-console.log"),
                Pattern.compile("TCK-SELFTEST EXIT rc="), TIMEOUT);
        return SelftestResult.judge(r.lines(), r.finished(), r.millis());
    }
}
