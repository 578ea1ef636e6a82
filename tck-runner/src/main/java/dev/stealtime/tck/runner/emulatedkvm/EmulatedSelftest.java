package dev.stealtime.tck.runner.emulatedkvm;


import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The upstream KVM selftest {@code tools/testing/selftests/kvm/steal_time} in the machine the
 * emulated-KVM provider boots: the same QEMU command line ({@link EmulatedMachine#qemuCommand}),
 * accelerator, kernel and KVM modules, with an initramfs that runs the selftest instead of the
 * adapter (busybox from the provider's cache, so the provider must have prepared once).
 */
public final class EmulatedSelftest {

    private static final Duration TIMEOUT = Duration.ofMinutes(4);
    /** x86: what the selftest machine loads, in order (the emulated CPU is AMD: no kvm-intel). */
    private static final List<String> X86_MODULES = List.of("irqbypass", "kvm", "kvm-amd");

    private EmulatedSelftest() {
    }

    /**
     * @param arch       arm64 or x86
     * @param kernel     the kernel to boot, or null for the provider's (Debian's)
     * @param kvmModules x86: a directory with kvm.ko/kvm-amd.ko under test (the rest Debian's), or null
     * @param selftest   the static {@code steal_time} built from the same tree
     * @param scripts    the replay scripts (selftest-initrd.sh, selftest-init)
     * @param work       a private directory: initramfs, console log
     */
    public static SelftestResult run(String arch, Path kernel, Path kvmModules, Path selftest, Path scripts, Path work)
            throws IOException {
        Guest guest = arch.equals("arm64") ? Guest.ARM64 : Guest.X86_64;
        Path cache = MachineImage.cacheDir(guest);
        Path busybox = cache.resolve("busybox");
        Path boot = kernel != null ? kernel : cache.resolve("kernel");
        if (!Files.isRegularFile(busybox) || !Files.isRegularFile(boot)) {
            return new SelftestResult("ERROR", -1, "the " + guest.providerId + " provider has not prepared its machine in "
                    + cache + " (run it once)", 0);
        }
        List<String> pack = new ArrayList<>(List.of("bash", scripts.resolve("selftest-initrd.sh").toString(),
                work.resolve("selftest-initrd.cpio.gz").toString(), busybox.toString(), selftest.toString(), scripts.toString()));
        if (guest.kvmModules) {
            Map<String, Path> stock = new LinkedHashMap<>();
            for (String m : KvmModules.NAMES) {
                Path f = cache.resolve("kvm-modules").resolve(m + ".ko");
                if (Files.isRegularFile(f)) {
                    stock.put(m, f);
                }
            }
            Map<String, KvmModules.Module> chosen = KvmModules.select(kvmModules, stock, kernel == null);
            for (String m : X86_MODULES) {
                if (chosen.containsKey(m)) {
                    pack.add(chosen.get(m).file().toString());
                }
            }
        }
        Process p = new ProcessBuilder(pack).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        try {
            if (p.waitFor() != 0) {
                return new SelftestResult("ERROR", -1, "cannot pack the selftest initramfs: " + out.trim(), 0);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        List<String> command = EmulatedMachine.qemuCommand(guest, guest.accelerator(), boot,
                work.resolve("selftest-initrd.cpio.gz"), work.resolve("selftest.sock"));
        ConsoleRun.Result r = ConsoleRun.run(command, work.resolve("selftest-console.log"),
                Pattern.compile("TCK-SELFTEST EXIT rc="), TIMEOUT);
        Files.deleteIfExists(work.resolve("selftest-initrd.cpio.gz"));
        Files.deleteIfExists(work.resolve("selftest.sock"));
        return SelftestResult.judge(r.lines(), r.finished(), r.millis());
    }
}
