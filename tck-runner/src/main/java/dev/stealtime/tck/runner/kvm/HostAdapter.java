package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.runner.host.NativeSources;
import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The C adapter built for this host: the sources shipped in this jar ({@code native/kvm}), compiled by
 * their own {@code build-adapter.sh} (the one compiler command of every adapter build) with the host's
 * {@code gcc}, cached under {@code DIR/tck-kvm-HASH} (HASH: of the sources and the flags), so it is
 * built once per TCK version. Concurrent runs build side by side and the first rename wins.
 */
final class HostAdapter {

    private static final String SOURCES = "/native/kvm";
    private static final long BUILD_MINUTES = 5;

    private HostAdapter() {
    }

    /** The adapter for {@code flags}, built into {@code cache} unless it is there already. */
    static Path build(Path cache, List<String> flags) throws IOException {
        Files.createDirectories(cache);
        Path src = Files.createTempDirectory(cache, "src-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            NativeSources.extract(SOURCES, src);
            Path out = cache.resolve("tck-kvm-" + hash(src, flags));
            if (Files.isExecutable(out)) {
                return out;
            }
            Path tmp = src.resolve("tck-kvm");
            List<String> cmd = new ArrayList<>(List.of("bash", src.resolve("build-adapter.sh").toString(), "x86_64", src.toString(),
                    tmp.toString()));
            cmd.addAll(flags);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(BUILD_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("building the C adapter for this host did not finish within " + BUILD_MINUTES + " minutes");
            }
            if (p.exitValue() != 0) {
                throw new IOException("building the C adapter for this host failed (exit " + p.exitValue() + "): "
                        + log.substring(Math.max(0, log.length() - 400)).replace('\n', ' '));
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while building the C adapter", e);
        } finally {
            PrivateFiles.deleteTree(src);
        }
    }

    /** sha256 (16 hex digits) of every source file, by name, and the flags. */
    static String hash(Path src, List<String> flags) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            List<Path> files;
            try (Stream<Path> s = Files.list(src)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path f : files) {
                md.update(f.getFileName().toString().getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
                md.update(Files.readAllBytes(f));
            }
            md.update(String.join("\0", flags).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
