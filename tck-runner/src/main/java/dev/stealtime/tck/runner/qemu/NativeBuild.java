package dev.stealtime.tck.runner.qemu;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Builds what the provider runs from the sources shipped in the runner's jar ({@code native/guest}:
 * the test guest; {@code native/qemu}: the competitor), cached under
 * {@code ~/.cache/stealtime-tck/qemu/NAME-HASH} by a hash of the sources, so once per TCK version.
 */
final class NativeBuild {

    private static final long BUILD_MINUTES = 5;

    private NativeBuild() {
    }

    /** The test guest for x86-64 ({@code build.sh x86_64 OUT}). */
    static Path guest() throws IOException {
        return build("/native/guest", "tck-guest-x86_64", src -> List.of("bash", src.resolve("build.sh").toString(), "x86_64"));
    }

    /** The competitor helper ({@code gcc competitor.c}). */
    static Path competitor() throws IOException {
        return build("/native/qemu", "tck-qemu-competitor", src -> List.of("gcc", "-O2", "-Wall", "-Wextra", "-Werror",
                src.resolve("competitor.c").toString(), "-o"));
    }

    private interface Command {
        /** The build command; the output path is appended. */
        List<String> of(Path src);
    }

    private static Path build(String resource, String name, Command command) throws IOException {
        Path cache = cacheDir();
        Files.createDirectories(cache);
        Path src = PrivateDir.create(cache, "src-");
        try {
            extract(resource, src);
            Path out = cache.resolve(name + "-" + hash(src));
            if (Files.isExecutable(out) || Files.isRegularFile(out)) {
                return out;
            }
            Path tmp = src.resolve(name + ".out");
            List<String> cmd = new ArrayList<>(command.of(src));
            cmd.add(tmp.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(BUILD_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("building " + name + " did not finish within " + BUILD_MINUTES + " minutes");
            }
            if (p.exitValue() != 0) {
                throw new IOException("building " + name + " failed (exit " + p.exitValue() + "): "
                        + log.substring(Math.max(0, log.length() - 300)).replace('\n', ' '));
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while building " + name, e);
        } finally {
            PrivateDir.delete(src);
        }
    }

    private static Path cacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("stealtime-tck").resolve("qemu");
    }

    /** Copies the regular files of the class-path directory {@code resource} flat into {@code dest}. */
    private static void extract(String resource, Path dest) throws IOException {
        URL url = NativeBuild.class.getResource(resource);
        if (url == null) {
            throw new IOException("the sources " + resource + " are not on the class path");
        }
        URI uri;
        try {
            uri = url.toURI();
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
        if ("jar".equals(uri.getScheme())) {
            try (FileSystem fs = FileSystems.newFileSystem(uri, Map.of())) {
                copyFlat(fs.getPath(resource), dest);
            }
        } else {
            copyFlat(Path.of(uri), dest);
        }
    }

    private static void copyFlat(Path from, Path dest) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(from)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path f : files) {
            Files.copy(f, dest.resolve(f.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** sha256 (16 hex digits) of every source file, by name. */
    private static String hash(Path src) throws IOException {
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
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
