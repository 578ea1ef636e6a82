package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.HypervisorProvider;

/**
 * What the running suites test against. The CLI runner installs the provider explicitly; when the
 * suites run under plain surefire (a vendor's {@code mvn verify}), the provider is found from
 * {@link TckConfig} ({@code tck.provider}) through {@link java.util.ServiceLoader}. Either way the
 * suites see the provider through {@link ProviderGuard}: vendor errors named as the vendor's, every
 * call bounded in time.
 */
public final class TckContext {

    private static volatile HypervisorProvider installed;
    private static volatile boolean installedByRunner;
    private static volatile TckConfig config = TckConfig.fromEnvironment();

    private TckContext() {
    }

    public static synchronized void install(HypervisorProvider provider, TckConfig cfg) {
        installed = ProviderGuard.wrap(provider, cfg);
        installedByRunner = true;
        config = cfg;
    }

    public static synchronized void clear() {
        installed = null;
        installedByRunner = false;
        config = TckConfig.fromEnvironment();
    }

    /** Whether a runner installed the provider (false under a vendor's plain surefire build). */
    public static synchronized boolean installedByRunner() {
        return installedByRunner;
    }

    public static TckConfig config() {
        return config;
    }

    public static synchronized HypervisorProvider provider() {
        if (installed == null) {
            installed = ProviderGuard.wrap(Providers.require(Thread.currentThread().getContextClassLoader(), config.providerId()), config);
        }
        return installed;
    }
}
