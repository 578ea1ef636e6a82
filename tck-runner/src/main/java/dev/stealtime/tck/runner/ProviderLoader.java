package dev.stealtime.tck.runner;

import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.Providers;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipFile;

/**
 * Finds providers: the built-in ones ({@code reference}, {@code kvm}) and those in vendor jars given
 * with {@code --provider-jar}, through {@link java.util.ServiceLoader}.
 */
public final class ProviderLoader {

    private final ClassLoader loader;

    public ProviderLoader(List<Path> jars) {
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            urls.add(checkJar(jar));
        }
        ClassLoader parent = ProviderLoader.class.getClassLoader();
        this.loader = urls.isEmpty() ? parent : new URLClassLoader("tck-provider-jars", urls.toArray(URL[]::new), parent);
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

    public List<HypervisorProvider> all() {
        try {
            return Providers.discover(loader);
        } catch (IllegalStateException e) {
            throw new UsageException(e.getMessage());
        }
    }

    public HypervisorProvider byId(String id) {
        try {
            return Providers.require(loader, id);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
