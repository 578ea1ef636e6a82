package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.HostPackages;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** What the qemu provider needs from this machine, and why it is missing (one line each). */
final class QemuHost {

    /** Names another QEMU binary (a vendor's own build). */
    static final String QEMU_ENV = "TCK_QEMU";
    /** Overrides the {@code -cpu} model. */
    static final String CPU_ENV = "TCK_QEMU_CPU";
    static final String DEFAULT_QEMU = "qemu-system-x86_64";
    static final Path QBOOT = Path.of("/usr/share/qemu/qboot.rom");
    static final String KVM = "/dev/kvm";
    /** The provider's group in the host-package list. */
    static final String GROUP = "qemu";
    /** The emulated x86-64 machine's group (its kernel, static builds, initramfs). */
    static final String EMULATED_GROUP = "kvm-x86-emulated";
    /** The host packages the emulated arm64 machine needs (qemu-system-arm, the aarch64 cross compiler, ...). */
    static final String ARM64_GROUP = "kvm-arm64";

    private static volatile String version;

    private QemuHost() {
    }

    /** Why the provider cannot run here (without building or booting anything), or null. */
    static String problem() {
        String os = System.getProperty("os.name", "?");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "host OS is " + os + ", the qemu provider needs Linux";
        }
        String arch = System.getProperty("os.arch", "?");
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return "host is " + arch + ", the qemu provider runs x86-64 guests under KVM";
        }
        String env = System.getenv(QEMU_ENV);
        if (env != null && !env.isBlank() && qemu() == null) {
            return QEMU_ENV + "=" + env + " is not an executable file";
        }
        HostPackages.Missing missing = HostPackages.here().missing(GROUP,
                env != null && !env.isBlank() ? List.of("qemu-system-data", "gcc", "binutils") : null);
        if (!missing.none()) {
            return missing.reason();
        }
        return kvmProblem();
    }

    /** Why this host's {@code /dev/kvm} cannot be used (missing, or does not open read-write), or null. */
    static String kvmProblem() {
        if (!Files.exists(Path.of(KVM))) {
            return KVM + ": No such file or directory";
        }
        try (RandomAccessFile f = new RandomAccessFile(KVM, "rw")) {
            // opens: usable
        } catch (IOException e) {
            return KVM + ": " + e.getMessage();
        }
        return null;
    }

    /**
     * Why QEMU cannot run inside an emulated machine here (its host packages: the {@code qemu} and
     * {@code kvm-x86-emulated} groups), or null.
     */
    static String emulatedProblem() {
        String os = System.getProperty("os.name", "?");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "host OS is " + os + ", the emulated machine needs Linux";
        }
        String env = System.getenv(QEMU_ENV);
        if (env != null && !env.isBlank() && qemu() == null) {
            return QEMU_ENV + "=" + env + " is not an executable file";
        }
        for (String group : List.of(GROUP, EMULATED_GROUP)) {
            HostPackages.Missing missing = HostPackages.here().missing(group);
            if (!missing.none()) {
                return missing.reason();
            }
        }
        return null;
    }

    /**
     * Why QEMU for arm64 cannot run here, or null: it always runs inside the emulated arm64 machine
     * (this host's KVM, if any, is x86), which needs the {@code kvm-arm64} host packages (QEMU for the
     * machine, the aarch64 cross compiler for the test guest and the helpers); Debian's arm64 QEMU,
     * the inner one, is fetched once into the cache.
     */
    static String arm64Problem() {
        String os = System.getProperty("os.name", "?");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return "host OS is " + os + ", the emulated machine needs Linux";
        }
        HostPackages.Missing missing = HostPackages.here().missing(ARM64_GROUP);
        return missing.none() ? null : missing.reason();
    }

    /** The arguments for QEMU; {@code bios} as that QEMU finds qboot. */
    static QemuCommand command(String bios) {
        String cpu = System.getenv(CPU_ENV);
        return new QemuCommand(bios, cpu != null && !cpu.isBlank() ? cpu : QemuCommand.DEFAULT_CPU);
    }

    /** {@code qemu --version}'s first line and the binary, or why it cannot be asked. */
    static String qemuVersion() {
        String v = version;
        if (v != null) {
            return v;
        }
        Path q = qemu();
        if (q == null) {
            return "QEMU not found";
        }
        try {
            Process p = new ProcessBuilder(q.toString(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            String first = out.lines().findFirst().orElse("?");
            return version = first + " (" + q + ")";
        } catch (IOException e) {
            return q + ": " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return q + ": interrupted";
        }
    }

    /** {@code TCK_QEMU}, else {@code qemu-system-x86_64} on PATH; null when neither is an executable. */
    static Path qemu() {
        String env = System.getenv(QEMU_ENV);
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            return Files.isExecutable(p) ? p : null;
        }
        return onPath(DEFAULT_QEMU);
    }

    /** {@code name} on PATH, or null. */
    static Path onPath(String name) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String d : path.split(File.pathSeparator)) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }
}
