package dev.stealtime.tck.runner.providers;

import dev.stealtime.tck.support.TckConfig;

/**
 * A built-in provider that takes settings of the one configuration surface beyond the SPI's (the
 * emulated-machine providers: {@code --kernel}, {@code --kvm-modules}). Not part of the SPI: a
 * provider found by a vendor's plain surefire build reads {@link TckConfig#fromEnvironment()} instead.
 */
public interface Configurable {

    /**
     * Called by {@code tck run} and {@code tck providers} before the provider is asked anything else.
     *
     * @throws IllegalArgumentException with a one-line reason when a setting does not apply to it
     */
    void configure(TckConfig config);

    /** Whether the provider takes {@code key} at all (settings it does not take are refused when given as flags). */
    boolean takes(TckConfig.Key key);
}
