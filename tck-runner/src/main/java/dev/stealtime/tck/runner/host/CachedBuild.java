package dev.stealtime.tck.runner.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A program built on this host from sources shipped in the runner's jar, cached as
 * {@code CACHE/NAME-HASH} (HASH: of the sources and the build's own key), so it is built once per TCK
 * version. The sources are copied into a private (0700) directory beside the cache and removed after;
 * concurrent runs build side by side and the first rename wins. The one build-and-cache of the
 * C adapter, the test guest and the competitor helper.
 */
public final class CachedBuild {

    private static final long BUILD_MINUTES = 5;

    /** The build command for sources copied to {@code src}, writing its program to {@code out}. */
    public interface Command {
        List<String> of(Path src, Path out);
    }

    private CachedBuild() {
    }

    /**
     * The program {@code name} built from the class-path directory {@code resource} into {@code cache}
     * unless it is there already; {@code key} (flags, targets) is hashed with the sources;
     * {@code what} names it in errors ("the C adapter for this host").
     */
    public static Path of(String resource, Path cache, String name, List<String> key, String what, Command command)
            throws IOException {
        Files.createDirectories(cache);
        Path src = PrivateFiles.tempDir(cache, "src-");
        try {
            NativeSources.extract(resource, src);
            Path out = cache.resolve(name + "-" + hash(src, key));
            if (Files.isRegularFile(out)) {
                return out;
            }
            Path tmp = src.resolve(name + ".out");
            Process p = new ProcessBuilder(new ArrayList<>(command.of(src, tmp))).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(BUILD_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("building " + what + " did not finish within " + BUILD_MINUTES + " minutes");
            }
            if (p.exitValue() != 0) {
                throw new IOException("building " + what + " failed (exit " + p.exitValue() + "): "
                        + log.substring(Math.max(0, log.length() - 400)).replace('\n', ' '));
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while building " + what, e);
        } finally {
            PrivateFiles.deleteTree(src);
        }
    }

    /** sha256 (16 hex digits) of every source file, by name, and {@code key}. */
    public static String hash(Path src, List<String> key) throws IOException {
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
            md.update(String.join("\0", key).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
