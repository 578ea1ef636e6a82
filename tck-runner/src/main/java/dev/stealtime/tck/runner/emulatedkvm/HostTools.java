package dev.stealtime.tck.runner.emulatedkvm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host programs an emulated-machine provider needs, and the Debian packages that bring them
 * (each {@link Guest} has its own, plus {@link #COMMON}). Checked without running anything, so
 * {@code tck providers} can say at once what to install.
 */
final class HostTools {

    /** One needed file and the package that installs it. */
    record Need(String what, String pkg, List<Path> anyOf) {
        boolean present(String searchPath) {
            return anyOf.stream().anyMatch(p -> p.isAbsolute() ? Files.isRegularFile(p) : onPath(p.toString(), searchPath));
        }
    }

    /** What every emulated machine needs: the image is packed with cpio, the Debian packages fetched with apt. */
    static final List<Need> COMMON = List.of(
            new Need("cpio", "cpio", List.of(Path.of("cpio"))),
            new Need("apt-get", "apt", List.of(Path.of("apt-get"))),
            new Need("dpkg", "dpkg", List.of(Path.of("dpkg"))));

    private HostTools() {
    }

    /** The packages to install for {@code guest}, in order; empty when everything is there. */
    static List<String> missingPackages(Guest guest) {
        return missingPackages(guest, searchPath());
    }

    /** The same, looking for commands in {@code searchPath} (a PATH value). */
    static List<String> missingPackages(Guest guest, String searchPath) {
        List<String> missing = new ArrayList<>();
        for (Need n : guest.needs()) {
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
