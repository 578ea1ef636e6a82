package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.runner.host.CachedBuild;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The C adapter built for this host: the sources shipped in this jar ({@code native/kvm}), compiled by
 * their own {@code build-adapter.sh} (the one compiler command of every adapter build) with the host's
 * {@code gcc}, cached under {@code DIR/tck-kvm-HASH} (HASH: of the sources and the flags), so it is
 * built once per TCK version.
 */
final class HostAdapter {

    private static final String SOURCES = "/native/kvm";

    private HostAdapter() {
    }

    /** The adapter for {@code flags}, built into {@code cache} unless it is there already. */
    static Path build(Path cache, List<String> flags) throws IOException {
        return CachedBuild.of(SOURCES, cache, "tck-kvm", flags, "the C adapter for this host", (src, out) -> {
            List<String> cmd = new ArrayList<>(List.of("bash", src.resolve("build-adapter.sh").toString(), "x86_64",
                    src.toString(), out.toString()));
            cmd.addAll(flags);
            return cmd;
        });
    }
}
