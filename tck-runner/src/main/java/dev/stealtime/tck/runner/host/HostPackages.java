package dev.stealtime.tck.runner.host;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The Debian packages the TCK needs on the host, read from the one list that {@code .ci/run}, the
 * README and the providers' availability all take them from ({@code host-packages.txt}, a resource of the
 * runner's root package). Each package comes with a check of the piece it brings: a command on PATH, a file, or — for
 * the C library and the kernel headers a static adapter is built with — a real compile by the compiler
 * that will build it. Compile answers are cached (under {@code ~/.cache/stealtime-tck/host-checks})
 * until the compiler or the installed packages change, so {@code tck providers} stays fast; a
 * compiler's own output is never shown.
 */
public final class HostPackages {

    /** The list, as a class-path resource of the runner's root package (where .ci/run reads it too). */
    public static final String RESOURCE = "host-packages.txt";
    private static final String RESOURCE_PATH = "/dev/stealtime/tck/runner/" + RESOURCE;

    /** One line of the list. */
    public record Entry(String group, String pkg, String check) {
    }

    /** What a check of one group found. */
    public record Missing(String group, List<String> packages) {
        public boolean none() {
            return packages.isEmpty();
        }

        /** The command a user pastes, e.g. {@code apt-get install --no-install-recommends cpio}. */
        public String installCommand() {
            return "apt-get install --no-install-recommends " + String.join(" ", packages);
        }

        /** One line for an availability reason. */
        public String reason() {
            return "missing host packages: " + String.join(" ", packages) + " (install with: " + installCommand() + ")";
        }
    }

    private static final long COMPILE_TIMEOUT_SECONDS = 60;

    private final List<Entry> entries;
    private final String searchPath;
    private final Path cacheDir;

    private HostPackages(List<Entry> entries, String searchPath, Path cacheDir) {
        this.entries = entries;
        this.searchPath = searchPath;
        this.cacheDir = cacheDir;
    }

    /** The list shipped with the TCK, checked against this machine (PATH, the user's cache). */
    public static HostPackages here() {
        return new HostPackages(shipped(), System.getenv().getOrDefault("PATH", "/usr/bin:/bin"), defaultCacheDir());
    }

    /** The same list, looking for commands in {@code searchPath} and caching compile answers in {@code cacheDir}. */
    public static HostPackages withPath(String searchPath, Path cacheDir) {
        return new HostPackages(shipped(), searchPath, cacheDir);
    }

    /** The entries of the shipped list, in order. */
    public static List<Entry> shipped() {
        try (InputStream in = HostPackages.class.getResourceAsStream(RESOURCE_PATH)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses the list's text; a malformed line is an error naming it. */
    static List<Entry> parse(String text) {
        List<Entry> out = new ArrayList<>();
        int n = 0;
        for (String line : text.split("\n")) {
            n++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] f = t.split("\\s+");
            if (f.length != 3 || !f[2].matches("(command|file|static-link|kvm-header):\\S+")) {
                throw new IllegalStateException(RESOURCE + " line " + n + " is not 'GROUP PACKAGE KIND:ARG': " + t);
            }
            out.add(new Entry(f[0], f[1], f[2]));
        }
        return List.copyOf(out);
    }

    /** The packages of {@code group}, in list order. */
    public List<String> packages(String group) {
        return entries.stream().filter(e -> e.group().equals(group)).map(Entry::pkg).toList();
    }

    /** Which packages of {@code group} this machine lacks (in list order, each once). */
    public Missing missing(String group) {
        return missing(group, null);
    }

    /** The same, for only the packages {@code only} of the group (null: all of them). */
    public Missing missing(String group, Collection<String> only) {
        Set<String> missing = new LinkedHashSet<>();
        for (Entry e : entries) {
            if (e.group().equals(group) && (only == null || only.contains(e.pkg())) && !present(e)) {
                missing.add(e.pkg());
            }
        }
        return new Missing(group, List.copyOf(missing));
    }

    private boolean present(Entry e) {
        String kind = e.check().substring(0, e.check().indexOf(':'));
        String arg = e.check().substring(kind.length() + 1);
        return switch (kind) {
            case "command" -> executable(arg) != null;
            case "file" -> Files.isRegularFile(Path.of(arg));
            case "static-link" -> compiles(arg, "static-link", STATIC_PROGRAM, true);
            case "kvm-header" -> compiles(arg, "kvm-header", KVM_HEADER_PROGRAM, false);
            default -> throw new IllegalStateException("unknown check " + e.check());
        };
    }

    private static final String STATIC_PROGRAM = """
            #include <pthread.h>
            #include <stdint.h>
            #include <stdio.h>
            static void *run(void *a) { return a; }
            int main(void) {
                pthread_t t;
                uint64_t x = 0;
                if (pthread_create(&t, NULL, run, &x) == 0) pthread_join(t, NULL);
                printf("%llu\\n", (unsigned long long) x);
                return 0;
            }
            """;

    /** Only the kernel's UAPI headers: compiled, not linked, so it needs no C library. */
    private static final String KVM_HEADER_PROGRAM = """
            #include <linux/kvm.h>
            int tck_kvm_api_version = KVM_API_VERSION;
            """;

    /** The executable {@code name} on the search path, or null. */
    public Path executable(String name) {
        for (String dir : searchPath.split(":")) {
            if (!dir.isEmpty()) {
                Path p = Path.of(dir, name);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        return null;
    }

    /**
     * Whether {@code compiler} builds {@code program} ({@code link}: a static executable; else an
     * object file). A missing compiler cannot build anything. The answer is cached under a key made of
     * the compiler's real path, size and time stamp and the time stamp of dpkg's status file (which
     * changes whenever a package is installed or removed).
     */
    private boolean compiles(String compiler, String what, String program, boolean link) {
        Path cc = executable(compiler);
        if (cc == null) {
            return false;
        }
        String key = cacheKey(cc, what);
        Path cached = cacheDir.resolve(key);
        try {
            if (Files.isRegularFile(cached)) {
                return Files.readString(cached).strip().equals("yes");
            }
        } catch (IOException ignored) {
            // recompute
        }
        boolean ok = compileNow(cc, program, link);
        try {
            Files.createDirectories(cacheDir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path tmp = Files.createTempFile(cacheDir, key, ".tmp");
            Files.writeString(tmp, ok ? "yes\n" : "no\n");
            Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException ignored) {
            // not cached: checked again next time
        }
        return ok;
    }

    private static boolean compileNow(Path cc, String program, boolean link) {
        Path dir = null;
        try {
            dir = PrivateFiles.tempDir("tck-host-check-");
            Path src = dir.resolve("check.c");
            Files.writeString(src, program);
            List<String> cmd = new ArrayList<>(List.of(cc.toString(), "-o", dir.resolve(link ? "check" : "check.o").toString()));
            cmd.addAll(link ? List.of("-static", "-pthread") : List.of("-c"));
            cmd.add(src.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("cc.log").toFile()).start();
            if (!p.waitFor(COMPILE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (dir != null) {
                PrivateFiles.deleteTree(dir);
            }
        }
    }

    private static String cacheKey(Path cc, String what) {
        StringBuilder k = new StringBuilder(what).append('\n');
        try {
            Path real = cc.toRealPath();
            k.append(real).append('\n').append(Files.size(real)).append('\n').append(Files.getLastModifiedTime(real).toMillis());
        } catch (IOException e) {
            k.append(cc);
        }
        Path status = Path.of("/var/lib/dpkg/status");
        try {
            k.append('\n').append(Files.getLastModifiedTime(status).toMillis());
        } catch (IOException e) {
            k.append("\nno-dpkg");
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(k.toString().getBytes(StandardCharsets.UTF_8));
            return what + "-" + HexFormat.of().formatHex(h, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code $XDG_CACHE_HOME} or {@code ~/.cache}, then {@code stealtime-tck/host-checks}. */
    static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("stealtime-tck").resolve("host-checks");
    }
}
