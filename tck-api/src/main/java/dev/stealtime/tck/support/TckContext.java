package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.HypervisorProvider;

/**
 * What the running suites test against. The CLI runner installs the provider explicitly; when the
 * suites run under plain surefire (a vendor's {@code mvn verify}), the provider is found from
 * {@link TckConfig} ({@code tck.provider}) through {@link java.util.ServiceLoader}.
 */
public final class TckContext {

    private static volatile HypervisorProvider installed;
    private static volatile TckConfig config = TckConfig.fromEnvironment();

    private TckContext() {
    }

    public static synchronized void install(HypervisorProvider provider, TckConfig cfg) {
        installed = provider;
        config = cfg;
    }

    public static synchronized void clear() {
        installed = null;
        config = TckConfig.fromEnvironment();
    }

    public static TckConfig config() {
        return config;
    }

    public static synchronized HypervisorProvider provider() {
        if (installed == null) {
            installed = Providers.require(Thread.currentThread().getContextClassLoader(), config.providerId());
        }
        return installed;
    }
}
