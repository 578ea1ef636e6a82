package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.CachedBuild;
import dev.stealtime.tck.runner.host.NativeSources;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What the provider runs, built from the sources shipped in the runner's jar ({@code native/guest}:
 * the test guest; {@code native/qemu}: the competitor) and cached under
 * {@code ~/.cache/stealtime-tck/qemu/NAME-HASH}, so once per TCK version.
 */
final class NativeBuild {

    private NativeBuild() {
    }

    /** The test guest for x86-64 ({@code build.sh x86_64 OUT}). */
    static Path guest() throws IOException {
        return CachedBuild.of("/native/guest", cache(), "tck-guest-x86_64", List.of(), "the x86-64 test guest",
                (src, out) -> List.of("bash", src.resolve("build.sh").toString(), "x86_64", out.toString()));
    }

    /** The competitor helper ({@code gcc competitor.c}). */
    static Path competitor() throws IOException {
        return CachedBuild.of("/native/qemu", cache(), "tck-qemu-competitor", List.of(), "the competitor helper",
                (src, out) -> List.of("gcc", "-O2", "-Wall", "-Wextra", "-Werror", src.resolve("competitor.c").toString(),
                        "-o", out.toString()));
    }

    /** The defect interposer ({@code gcc -shared defects.c}): LD_PRELOAD into QEMU by the self-tests. */
    static Path defects() throws IOException {
        return CachedBuild.of("/native/qemu", cache(), "libtck-qemu-defects.so", List.of(), "the QEMU defect interposer",
                (src, out) -> List.of("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", src.resolve("defects.c").toString(),
                        "-o", out.toString(), "-ldl"));
    }

    private static Path cache() {
        return NativeSources.cacheDir("qemu");
    }
}
