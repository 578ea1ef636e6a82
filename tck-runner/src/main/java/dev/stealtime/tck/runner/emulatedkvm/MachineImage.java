package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.host.NativeSources;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What an emulated machine boots by default, prepared once under the user's cache directory
 * ({@code $XDG_CACHE_HOME} or {@code ~/.cache}, then {@code stealtime-tck/<provider id>}) by
 * {@code prepare.sh}, which ships in this jar beside the adapter's C sources
 * ({@code tck-runner/src/main/native/kvm}): Debian's cloud kernel for the guest's architecture and
 * busybox fetched through a private APT configuration (first time only), then the static adapter
 * and the initramfs (again whenever the sources change).
 *
 * @param kernel        Debian's kernel image
 * @param initrd        the initramfs with busybox, /init, the virtio modules and the adapter
 * @param kernelRelease Debian's kernel release, e.g. {@code 6.1.0-57-cloud-amd64}
 * @param kvmModules    x86: the kernel's own KVM modules by name ({@code kvm-amd} → file); empty on arm64
 */
record MachineImage(Path kernel, Path initrd, String kernelRelease, Map<String, Path> kvmModules) {

    static final String RESOURCES = "/native/kvm";
    private static final long PREPARE_TIMEOUT_MINUTES = 15;

    /** The cache directory of {@code guest}. */
    static Path cacheDir(Guest guest) {
        return NativeSources.cacheDir(guest.providerId);
    }

    /**
     * Runs {@code prepare.sh} (quick when everything is cached).
     *
     * @param work a private directory for the extracted sources and the log
     * @throws IllegalStateException with the tail of the script's output when it fails
     */
    static MachineImage prepare(Guest guest, Path work) {
        Path cache = cacheDir(guest);
        Path src = work.resolve("src");
        Path log = work.resolve("prepare.log");
        try {
            extractSources(src);
            Process p = new ProcessBuilder("bash", src.resolve("prepare.sh").toString(), guest.arch, cache.toString(), src.toString())
                    .redirectErrorStream(false)
                    .redirectError(log.toFile())
                    .redirectOutput(ProcessBuilder.Redirect.PIPE)
                    .start();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
            }
            if (!p.waitFor(PREPARE_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("prepare.sh did not finish within " + PREPARE_TIMEOUT_MINUTES + " minutes");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException("prepare.sh failed (exit " + p.exitValue() + "): " + tail(log));
            }
            String[] lines = out.split("\n");
            Path initrd = Path.of(lines[lines.length - 1].trim());
            String release = Files.readString(cache.resolve("kernel-release")).trim();
            Map<String, Path> modules = new LinkedHashMap<>();
            for (String m : KvmModules.NAMES) {
                Path f = cache.resolve("kvm-modules").resolve(m + ".ko");
                if (Files.isRegularFile(f)) {
                    modules.put(m, f);
                }
            }
            return new MachineImage(cache.resolve("kernel"), initrd, release, Collections.unmodifiableMap(modules));
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare the emulated machine: " + e.getMessage() + " " + tail(log), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while preparing the emulated machine", e);
        }
    }

    /** Copies the adapter's sources and scripts out of the jar (or the classes directory). */
    static void extractSources(Path dest) throws IOException {
        NativeSources.extract(RESOURCES, dest);
    }

    /** The last lines of a log file, on one line, for messages. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 6), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            return "";
        }
    }
}
