package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.HypervisorProvider;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Provider discovery through {@link ServiceLoader}, one provider at a time: a provider whose
 * constructor throws, or whose {@code id()} throws or is null, is recorded with the vendor's own
 * message and does not hide the others. Every provider is recorded with where its class was loaded
 * from, so that an id declared twice is an error naming both sources, never a silent shadowing.
 */
public final class Providers {

    private Providers() {
    }

    /**
     * A provider that loaded.
     *
     * @param provider the instance
     * @param id       its {@code id()}
     * @param source   where its class came from: a jar or a classes directory
     */
    public record Found(HypervisorProvider provider, String id, Path source) {
        @Override
        public String toString() {
            return "'" + id + "' (" + provider.getClass().getName() + " from " + source + ")";
        }
    }

    /** A provider listed in META-INF/services that did not load, and why, in the vendor's words. */
    public record Broken(String what, String reason) {
        @Override
        public String toString() {
            return what + ": " + reason;
        }
    }

    /** What a class loader offers: the providers that loaded and those that did not. */
    public record Catalog(List<Found> found, List<Broken> broken) {

        public Catalog {
            found = List.copyOf(found);
            broken = List.copyOf(broken);
        }

        /** Ids declared by more than one provider, each with every provider declaring it. */
        public Map<String, List<Found>> collisions() {
            return found.stream().collect(Collectors.groupingBy(Found::id, java.util.LinkedHashMap::new, Collectors.toList()))
                    .entrySet().stream().filter(e -> e.getValue().size() > 1)
                    .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, java.util.LinkedHashMap::new));
        }

        /**
         * The provider with this id. Throws IllegalArgumentException with one line when the id is
         * unknown (naming the known ids and the providers that failed to load) or declared twice
         * (naming both sources).
         */
        public Found require(String id) {
            List<Found> matching = found.stream().filter(f -> f.id().equals(id)).toList();
            if (matching.size() > 1) {
                throw new IllegalArgumentException(collision(id, matching));
            }
            if (matching.isEmpty()) {
                throw new IllegalArgumentException("unknown provider '" + id + "' (known: "
                        + found.stream().map(Found::id).distinct().collect(Collectors.joining(", ")) + ")"
                        + (broken.isEmpty() ? "" : "; did not load: "
                        + broken.stream().map(Broken::toString).collect(Collectors.joining("; "))));
            }
            return matching.get(0);
        }

        public static String collision(String id, List<Found> matching) {
            return "provider id '" + id + "' is declared by " + matching.size() + " providers: "
                    + matching.stream().map(f -> f.provider().getClass().getName() + " from " + f.source())
                    .collect(Collectors.joining(" and ")) + " (ids must be unique; rename one)";
        }
    }

    /** Every provider visible to {@code loader}, each recorded as found or broken. */
    public static Catalog scan(ClassLoader loader) {
        List<Found> found = new ArrayList<>();
        List<Broken> broken = new ArrayList<>();
        Iterator<ServiceLoader.Provider<HypervisorProvider>> it = ServiceLoader.load(HypervisorProvider.class, loader).stream().iterator();
        while (true) {
            ServiceLoader.Provider<HypervisorProvider> candidate;
            try {
                if (!it.hasNext()) {
                    break;
                }
                candidate = it.next();
            } catch (ServiceConfigurationError e) {
                broken.add(new Broken("a provider listed in META-INF/services", ProviderException.vendorMessage(e)));
                continue;
            } catch (LinkageError e) {
                // the listed class loads but does not link: a class it needs (its superclass, say) is
                // in no jar given (ServiceLoader passes that through unwrapped)
                broken.add(new Broken("a provider listed in META-INF/services", "its class does not link: "
                        + ProviderException.vendorMessage(e) + " (a class it needs is missing from the jar and the classpath)"));
                continue;
            }
            String name = candidate.type().getName();
            Path source = sourceOf(candidate.type());
            HypervisorProvider p;
            try {
                p = candidate.get();
            } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
                broken.add(new Broken(name + " from " + source, "constructor threw " + ProviderException.vendorMessage(e)));
                continue;
            }
            String id;
            try {
                id = p.id();
            } catch (RuntimeException | LinkageError e) {
                broken.add(new Broken(name + " from " + source, "id() threw " + ProviderException.vendorMessage(e)));
                continue;
            }
            if (id == null || id.isBlank()) {
                broken.add(new Broken(name + " from " + source, "id() returned " + (id == null ? "null" : "a blank id")));
                continue;
            }
            found.add(new Found(p, id, source));
        }
        return new Catalog(found, broken);
    }

    /** The jar or classes directory a class was loaded from. */
    public static Path sourceOf(Class<?> type) {
        try {
            CodeSource cs = type.getProtectionDomain().getCodeSource();
            if (cs != null && cs.getLocation() != null) {
                return Path.of(cs.getLocation().toURI()).toAbsolutePath();
            }
        } catch (URISyntaxException | RuntimeException ignored) {
            // fall through
        }
        return Path.of("(unknown location of " + type.getName() + ")");
    }

    /** Every provider that loaded (discovery order). */
    public static List<HypervisorProvider> discover(ClassLoader loader) {
        return scan(loader).found().stream().map(Found::provider).toList();
    }

    /** The provider with this id, or an IllegalArgumentException in one line (see {@link Catalog#require}). */
    public static HypervisorProvider require(ClassLoader loader, String id) {
        return scan(loader).require(id).provider();
    }
}
