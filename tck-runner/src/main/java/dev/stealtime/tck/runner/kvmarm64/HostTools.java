package dev.stealtime.tck.runner.kvmarm64;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host programs the kvm-arm64 provider needs, and the Debian packages that bring them. Checked
 * without running anything, so {@code tck providers} can say at once what to install.
 */
final class HostTools {

    /** One needed file and the package that installs it. */
    record Need(String what, String pkg, List<Path> anyOf) {
        boolean present(String searchPath) {
            return anyOf.stream().anyMatch(p -> p.isAbsolute() ? Files.isRegularFile(p) : onPath(p.toString(), searchPath));
        }
    }

    static final List<Need> NEEDS = List.of(
            new Need("qemu-system-aarch64", "qemu-system-arm", List.of(Path.of("qemu-system-aarch64"))),
            new Need("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu", List.of(Path.of("aarch64-linux-gnu-gcc"))),
            new Need("arm64 <linux/kvm.h>", "linux-libc-dev-arm64-cross",
                    List.of(Path.of("/usr/aarch64-linux-gnu/include/linux/kvm.h"))),
            new Need("arm64 static C library", "libc6-dev-arm64-cross", List.of(Path.of("/usr/aarch64-linux-gnu/lib/libc.a"))),
            new Need("cpio", "cpio", List.of(Path.of("cpio"))),
            new Need("apt-get", "apt", List.of(Path.of("apt-get"))),
            new Need("dpkg", "dpkg", List.of(Path.of("dpkg"))));

    private HostTools() {
    }

    /** The packages to install, in order; empty when everything is there. */
    static List<String> missingPackages() {
        return missingPackages(searchPath());
    }

    /** The same, looking for commands in {@code searchPath} (a PATH value). */
    static List<String> missingPackages(String searchPath) {
        List<String> missing = new ArrayList<>();
        for (Need n : NEEDS) {
            if (!n.present(searchPath) && !missing.contains(n.pkg())) {
                missing.add(n.pkg());
            }
        }
        return missing;
    }

    static boolean onPath(String command) {
        return onPath(command, searchPath());
    }

    private static String searchPath() {
        return System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
    }

    private static boolean onPath(String command, String searchPath) {
        for (String dir : searchPath.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }
}
