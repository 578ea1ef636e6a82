package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.GuestLayout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Any VMM, tested from inside the TCK's test guest as the {@code qemu} provider tests QEMU, started
 * as a {@link Recipe} says: {@code --provider vmm:RECIPE} (a file, or {@code qemu}, a recipe the TCK
 * ships). It runs on this host's {@code /dev/kvm}, for guests of this host's architecture; the VMM's
 * own duties it cannot reach (host MSR writes, save and restore) are missing capabilities, and a VMM
 * that places the arm64 PV-time structure itself is judged where it put it, as with QEMU.
 * See docs/vmm-recipes.md.
 */
public final class RecipeProvider implements HypervisorProvider {

    /** The prefix of {@code --provider} that names a recipe. */
    public static final String PREFIX = "vmm:";

    private final String spec;
    private final Recipe recipe;
    private QemuLauncher launcher;
    private String failure;

    private RecipeProvider(String spec, Recipe recipe) {
        this.spec = spec;
        this.recipe = recipe;
    }

    /**
     * The provider {@code vmm:RECIPE} names.
     *
     * @throws IllegalArgumentException with a one-line reason: no such recipe, or what is wrong in it
     */
    public static RecipeProvider of(String providerSpec) {
        String name = providerSpec.substring(PREFIX.length());
        if (name.isBlank()) {
            throw new IllegalArgumentException("--provider vmm:RECIPE needs a recipe: a file, or one of " + String.join(", ", Recipe.shipped()));
        }
        return new RecipeProvider(providerSpec, Recipe.load(name));
    }

    @Override
    public String id() {
        return spec;
    }

    @Override
    public String description() {
        return recipe.name() + ", from inside the TCK's test guest (recipe " + recipe.source() + ")";
    }

    @Override
    public String version() {
        return "the VMM of " + recipe.source() + ": " + String.join(" ", recipe.command());
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.of(recipe.architecture());
    }

    /** MULTI_VCPU when the command says how many ({@code {vcpus}}); nothing else a guest alone cannot show. */
    @Override
    public Set<Capability> capabilities() {
        return recipe.multiVcpu() ? Set.of(Capability.MULTI_VCPU) : Set.of();
    }

    @Override
    public TimingPrecision timing() {
        return TimingPrecision.measured(QemuProvider.TOLERANCE);
    }

    /** 2 MiB: the first byte of the test guest's free RAM (x86-64: its image is at 1 MiB). */
    @Override
    public long layoutBase() {
        return 2 * GuestLayout.MIB;
    }

    @Override
    public Optional<Duration> defaultCallTimeout() {
        return Optional.of(Duration.ofSeconds(60));
    }

    /** Builds the test guest and the competitor, then boots the VMM once to see that the guest answers. */
    @Override
    public synchronized void prepare() {
        if (launcher != null || failure != null || problem() != null) {
            return;
        }
        try {
            Path guest = NativeBuild.guest();
            Path competitor = NativeBuild.competitor();
            QemuLauncher l = launcher(guest, competitor);
            VmSpec probe = new VmSpec(recipe.architecture(), 1, GuestLayout.forProvider(this, recipe.architecture()).regions(), true);
            try (QemuVm vm = QemuVm.start(l, probe)) {
                vm.vcpu(0).run(Duration.ofMillis(1));
            }
            launcher = l;
        } catch (IOException | RuntimeException e) {
            failure = "the VMM of " + recipe.source() + " did not run the test guest: " + e.getMessage();
        }
    }

    @Override
    public synchronized Availability availability() {
        String why = problem();
        if (why != null) {
            return Availability.no(why);
        }
        if (failure != null) {
            return Availability.no(failure);
        }
        return launcher != null ? Availability.yes() : Availability.yes("a run builds the test guest (gcc) and boots " + recipe.command().get(0) + " once");
    }

    /** Why the recipe cannot run here, without building or starting anything; or null. */
    String problem() {
        String arch = System.getProperty("os.arch", "?");
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64");
        if (recipe.architecture() != Architecture.X86_64 || !x86) {
            return "recipe " + recipe.source() + " is for " + recipe.architecture().name().toLowerCase(Locale.ROOT)
                    + " guests; recipes run on this host's KVM, and the test guest is built for x86-64 hosts (this one: " + arch + ")";
        }
        String binary = recipe.command().get(0);
        if (!binary.contains("/") ? QemuHost.onPath(binary) == null : !Files.isExecutable(Path.of(binary))) {
            return recipe.source() + ": the VMM '" + binary + "' is not " + (binary.contains("/") ? "an executable file" : "on PATH");
        }
        String kvm = QemuHost.kvmProblem();
        return kvm == null ? null : kvm + " (recipes run on this host's KVM)";
    }

    private QemuLauncher launcher(Path guest, Path competitor) {
        return new HostLauncher() {
            @Override
            public QemuProcess launch(VmSpec spec, java.util.List<String> extra) throws IOException {
                if (!extra.isEmpty()) {
                    throw new IOException("a recipe's VMM takes no extra arguments: " + extra);
                }
                return RecipeProcess.start(recipe, guest, competitor, spec);
            }

            @Override
            public String snapshotPath() throws IOException {
                throw new IOException("a recipe has no save and restore");
            }

            @Override
            public void dropSnapshot() {
                // nothing saved
            }
        };
    }

    @Override
    public synchronized Vm open(VmSpec spec) {
        if (spec.architecture() != recipe.architecture()) {
            throw new UnsupportedOperationException("recipe " + recipe.source() + " runs " + recipe.architecture() + " guests, not " + spec.architecture());
        }
        if (!spec.stealTimeOffered()) {
            throw new UnsupportedOperationException("steal time cannot be withheld (WITHHOLD_STEAL_TIME is not declared)");
        }
        if (spec.onlyStealTime()) {
            throw new UnsupportedOperationException("steal time as the only paravirtual feature is not declared (STEAL_TIME_ALONE)");
        }
        if (spec.vcpus() > 1 && !recipe.multiVcpu()) {
            throw new UnsupportedOperationException("the recipe's command has no {vcpus}: every VM has one vCPU");
        }
        if (spec.vcpus() > 8) {
            throw new UnsupportedOperationException("the test guest brings up at most 8 vCPUs, asked " + spec.vcpus());
        }
        for (var r : spec.ram()) {
            if (r.end() > (long) recipe.memoryMib() << 20) {
                throw new UnsupportedOperationException("the recipe's " + recipe.memoryMib() + " MiB of guest RAM do not hold " + r);
            }
        }
        prepare();
        if (launcher == null) {
            throw new IllegalStateException("vmm provider unavailable: " + (failure != null ? failure : problem()));
        }
        try {
            QemuVm vm = QemuVm.start(launcher, spec);
            QemuProvider.track(vm);         // stopped with the JVM, as the qemu provider's
            return vm;
        } catch (IOException e) {
            throw new IllegalStateException("starting the VMM of " + recipe.source() + " for " + spec + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return id() + ": " + description();
    }
}
