package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.HypervisorProvider;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/** Provider discovery through {@link ServiceLoader}. */
public final class Providers {

    private Providers() {
    }

    /** Every provider visible to {@code loader}, in discovery order. */
    public static List<HypervisorProvider> discover(ClassLoader loader) {
        List<HypervisorProvider> out = new ArrayList<>();
        try {
            for (HypervisorProvider p : ServiceLoader.load(HypervisorProvider.class, loader)) {
                out.add(p);
            }
        } catch (ServiceConfigurationError e) {
            throw new IllegalStateException("a provider failed to load: " + e.getMessage(), e);
        }
        return out;
    }

    public static Optional<HypervisorProvider> byId(ClassLoader loader, String id) {
        return discover(loader).stream().filter(p -> p.id().equals(id)).findFirst();
    }

    /** The provider with this id, or an IllegalArgumentException naming the ids that exist. */
    public static HypervisorProvider require(ClassLoader loader, String id) {
        List<HypervisorProvider> all = discover(loader);
        return all.stream().filter(p -> p.id().equals(id)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown provider '" + id + "' (known: "
                        + all.stream().map(HypervisorProvider::id).collect(Collectors.joining(", ")) + ")"));
    }
}
