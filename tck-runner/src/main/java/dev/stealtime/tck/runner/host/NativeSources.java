package dev.stealtime.tck.runner.host;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Where the TCK caches what it builds, and the sources and scripts shipped under {@code native/} in the runner's jar (or classes directory), copied out to be run. */
public final class NativeSources {

    private NativeSources() {
    }

    /** The TCK's cache directory {@code name}: under {@code $XDG_CACHE_HOME} or {@code ~/.cache}, then {@code stealtime-tck}. */
    public static Path cacheDir(String name) {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("stealtime-tck").resolve(name);
    }

    /**
     * Copies the regular files of the class-path directory {@code resource} (e.g.
     * {@code /native/kvm-arm64}) flat into {@code dest}, which is created.
     */
    public static void extract(String resource, Path dest) throws IOException {
        URL url = NativeSources.class.getResource(resource);
        if (url == null) {
            throw new IOException("the sources " + resource + " are not on the class path");
        }
        Files.createDirectories(dest);
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
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(from)) {
            s.filter(Files::isRegularFile).forEach(files::add);
        }
        for (Path f : files) {
            Files.copy(f, dest.resolve(f.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
