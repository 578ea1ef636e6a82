package dev.stealtime.tck.runner.providers;

import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.Providers;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.zip.ZipFile;

/**
 * The one place where a provider spec (the value of {@code --provider} / {@code tck.provider}) and
 * the {@code --provider-jar} jars become the provider a run tests, together with where it came from,
 * which the conformance summary records. Providers are the built-in ones ({@code reference},
 * {@code kvm}) and those the jars list in {@code META-INF/services}; an id declared twice is an error
 * naming both sources. Other kinds of source (a process, a socket, a container) plug in here as
 * spec prefixes.
 */
public final class ProviderSources {

    /**
     * The provider a run tests.
     *
     * @param provider the provider (not yet guarded)
     * @param source   where it came from, for people: "built in (…/tck-runner.jar)", "--provider-jar /abs/acme.jar"
     * @param jar      the vendor jar it was loaded from, or null (its SHA-256 goes into the summary)
     */
    public record Resolved(HypervisorProvider provider, String source, Path jar) {
    }

    private final List<Path> jars;
    private final ClassLoader loader;
    private Providers.Catalog catalog;

    public ProviderSources(List<Path> jars) {
        this.jars = jars.stream().map(j -> j.toAbsolutePath().normalize()).toList();
        List<URL> urls = new ArrayList<>();
        for (Path jar : this.jars) {
            urls.add(checkJar(jar));
        }
        ClassLoader parent = ProviderSources.class.getClassLoader();
        this.loader = urls.isEmpty() ? parent : new VendorClassLoader(urls.toArray(URL[]::new), parent);
    }

    /** Every provider found, and every one listed that did not load (with the vendor's reason). */
    public synchronized Providers.Catalog catalog() {
        if (catalog == null) {
            catalog = Providers.scan(loader);
        }
        return catalog;
    }

    /** The class loader that sees the vendor jars (the suites run with it as context loader). */
    public ClassLoader loader() {
        return loader;
    }

    /**
     * The provider of this run. {@code --provider-jar} without an explicit {@code --provider} (flag,
     * property or environment) selects the jars' provider when they hold exactly one.
     */
    public Resolved resolve(TckConfig config) {
        boolean explicit = !"default".equals(config.origin(TckConfig.Key.PROVIDER));
        if (!explicit && !jars.isEmpty()) {
            List<Providers.Found> fromJars = catalog().found().stream().filter(f -> jars.contains(f.source())).toList();
            if (fromJars.size() == 1) {
                return resolve(fromJars.get(0).id());
            }
            String names = jars.stream().map(Path::toString).collect(Collectors.joining(", "));
            if (fromJars.isEmpty()) {
                throw new UsageException("--provider-jar " + names + ": no provider in it loads"
                        + (catalog().broken().isEmpty() ? "" : " (" + catalog().broken().stream()
                        .map(Providers.Broken::toString).collect(Collectors.joining("; ")) + ")"));
            }
            throw new UsageException("--provider-jar " + names + " holds " + fromJars.size() + " providers ("
                    + fromJars.stream().map(Providers.Found::id).collect(Collectors.joining(", ")) + "): choose one with --provider");
        }
        return resolve(config.providerId());
    }

    /**
     * The provider a spec names: an id of a built-in provider or of one in the jars, or
     * a spec with a {@link ProviderPrefix} ({@code vmm:RECIPE}: a VMM started as the recipe says).
     */
    public Resolved resolve(String spec) {
        for (ProviderPrefix p : java.util.ServiceLoader.load(ProviderPrefix.class, ProviderSources.class.getClassLoader())) {
            if (spec.startsWith(p.prefix())) {
                try {
                    return new Resolved(p.provider(spec), "from " + spec, null);
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
            }
        }
        Providers.Found f;
        try {
            f = catalog().require(spec);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        return new Resolved(f.provider(), describe(f), jars.contains(f.source()) ? f.source() : null);
    }

    /** "built in (path)" or "--provider-jar path" or "classpath (path)". */
    public String describe(Providers.Found f) {
        if (jars.contains(f.source())) {
            return "--provider-jar " + f.source();
        }
        if (f.source().equals(Providers.sourceOf(ProviderSources.class))) {
            return "built in (" + f.source() + ")";
        }
        return "classpath (" + f.source() + ")";
    }

    private static URL checkJar(Path jar) {
        if (!Files.isRegularFile(jar)) {
            throw new UsageException("provider jar " + jar + " does not exist or is not a file");
        }
        if (!Files.isReadable(jar)) {
            throw new UsageException("provider jar " + jar + " is not readable");
        }
        try (ZipFile z = new ZipFile(jar.toFile())) {
            if (z.getEntry("META-INF/services/" + HypervisorProvider.class.getName()) == null) {
                throw new UsageException("provider jar " + jar + " has no META-INF/services/" + HypervisorProvider.class.getName());
            }
        } catch (IOException e) {
            throw new UsageException("provider jar " + jar + " is not a readable jar: " + e.getMessage());
        }
        try {
            return jar.toUri().toURL();
        } catch (MalformedURLException e) {
            throw new UsageException("provider jar " + jar + ": " + e.getMessage());
        }
    }

    /**
     * Loads a vendor's own classes from its jar first (so they are attributed to the jar even when
     * the same classes are also on the TCK's classpath); the TCK's packages and the JDK always come
     * from the parent, so the SPI types are the TCK's.
     */
    static final class VendorClassLoader extends URLClassLoader {
        static {
            registerAsParallelCapable();
        }

        VendorClassLoader(URL[] urls, ClassLoader parent) {
            super("tck-provider-jars", urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("java.") || name.startsWith("javax.") || name.startsWith("dev.stealtime.tck.")) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    try {
                        c = findClass(name);
                    } catch (ClassNotFoundException e) {
                        return super.loadClass(name, resolve);
                    }
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
