package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.providers.ProviderPrefix;
import dev.stealtime.tck.spi.HypervisorProvider;

/** {@code --provider vmm:RECIPE}: the {@link RecipeProvider} of that recipe. */
public final class VmmRecipePrefix implements ProviderPrefix {

    @Override
    public String prefix() {
        return RecipeProvider.PREFIX;
    }

    @Override
    public HypervisorProvider provider(String spec) {
        return RecipeProvider.of(spec);
    }
}
