package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.UsageException;

import java.nio.file.Path;
import java.util.function.Supplier;

/** {@code container:IMAGE[:TAG]}: the adapter as a container image (Testcontainers). */
final class ContainerAdapter {

    private ContainerAdapter() {
    }

    static Supplier<AdapterLink> links(String image, Path logFile) {
        throw new UsageException("container: adapters are not available in this build");
    }
}
