package dev.stealtime.tck.runner.providers;

import dev.stealtime.tck.spi.HypervisorProvider;

/**
 * A kind of provider spec that names its provider after a prefix ({@code vmm:RECIPE}), found through
 * {@link java.util.ServiceLoader} ({@code META-INF/services}), so that {@link ProviderSources} needs
 * no provider's package.
 */
public interface ProviderPrefix {

    /** The prefix, with its colon: {@code vmm:}. */
    String prefix();

    /**
     * The provider {@code spec} (which starts with {@link #prefix()}) names.
     *
     * @throws IllegalArgumentException with a one-line reason when it names none
     */
    HypervisorProvider provider(String spec);
}
