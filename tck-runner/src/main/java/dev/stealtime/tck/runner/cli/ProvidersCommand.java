package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.runner.adapter.AdapterProvider;
import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.providers.Configurable;
import dev.stealtime.tck.runner.providers.ProviderSources;
import dev.stealtime.tck.runner.run.ConformanceSummary;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.Providers;
import dev.stealtime.tck.support.TckConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "providers", mixinStandardHelpOptions = true,
        description = {"List the hypervisor providers found (built in, and in --provider-jar jars): whether each is available",
                "here and why not, its architectures, timing and declared capabilities (a missing capability makes",
                "the tests needing it NOT APPLICABLE), and where it was loaded from. A provider that fails to load",
                "gets a line with the vendor's reason; an id declared twice is flagged (tck run refuses it)."})
public final class ProvidersCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--provider-jar", paramLabel = "JAR", description = "A jar with a HypervisorProvider listed in META-INF/services (repeatable).")
    List<Path> jars = new ArrayList<>();

    @Option(names = "--provider", paramLabel = "ADAPTER", description = {"Check one adapter (exec:COMMAND, unix:PATH, container:IMAGE):",
            "its handshake (what its hello answered) and one VM of each declared architecture opened and closed."})
    String adapter;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (adapter != null) {
            return checkAdapter(out, adapter);
        }
        ProviderSources sources = new ProviderSources(jars);
        Providers.Catalog catalog = sources.catalog();
        TckConfig config = TckConfig.fromEnvironment();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"PROVIDER", "AVAILABLE", "ARCHITECTURES", "TIMING", "DESCRIPTION"});
        List<List<String>> details = new ArrayList<>();
        for (Providers.Found f : catalog.found()) {
            String refused = null;
            if (f.provider() instanceof Configurable c) {
                try {
                    c.configure(config);
                } catch (IllegalArgumentException e) {      // e.g. TCK_ACCEL=kvm where the host cannot nest
                    refused = e.getMessage();
                }
            }
            // a listing: availability from what is installed or cached, no downloads or boots
            HypervisorProvider p = ProviderGuard.wrapForListing(f.provider(), config);
            Availability a = refused != null ? Availability.no(refused) : p.availability();
            rows.add(new String[]{f.id(), a.available() ? "yes" : "no",
                    String.join(",", ConformanceSummary.declaredList("architectures()", () -> p.architectures().stream().map(Enum::name).sorted().toList())),
                    ConformanceSummary.declared("timing()", () -> String.valueOf(p.timing())),
                    ConformanceSummary.declared("description()", p::description)});
            List<String> d = new ArrayList<>();
            if (!a.available()) {
                d.add("why not:      " + a.reason());
            } else if (a.reason() != null && !a.reason().isBlank()) {
                d.add("note:         " + a.reason());
            }
            d.add("capabilities: " + String.join(", ", ConformanceSummary.declaredList("capabilities()",
                    () -> p.capabilities().stream().map(Enum::name).sorted().toList())));
            d.add("loaded from:  " + sources.describe(f));
            details.add(d);
        }
        int[] w = new int[4];
        for (String[] r : rows) {
            for (int i = 0; i < w.length; i++) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        String fmt = "%-" + w[0] + "s  %-" + w[1] + "s  %-" + w[2] + "s  %-" + w[3] + "s  %s%n";
        out.printf(fmt, (Object[]) rows.get(0));
        for (int i = 1; i < rows.size(); i++) {
            out.printf(fmt, (Object[]) rows.get(i));
            for (String d : details.get(i - 1)) {
                out.printf("%" + (w[0] + 2) + "s%s%n", "", d);
            }
        }
        for (Map.Entry<String, List<Providers.Found>> c : catalog.collisions().entrySet()) {
            out.printf("CONFLICT: %s%n", Providers.Catalog.collision(c.getKey(), c.getValue()));
        }
        for (Providers.Broken b : catalog.broken()) {
            out.printf("NOT LOADED: %s%n", b);
        }
        return ExitCodes.CONFORMS;
    }

    /**
     * {@code ./tck providers --provider exec:...}: what the adapter's handshake declared, and whether
     * a VM of each declared architecture opens (RAM shared or sampled as declared) and closes.
     * Exit 0 when all of that worked, 1 when a VM could not be opened, 2 when the adapter cannot be
     * started or fails the handshake (one line, as {@code tck run} says it).
     */
    static Integer checkAdapter(PrintWriter out, String adapter) {
        if (!AdapterSources.isAdapter(adapter)) {
            throw new UsageException("--provider here checks an adapter (exec:COMMAND, unix:PATH or container:IMAGE), not '" + adapter
                    + "'; the in-process providers are listed without it");
        }
        HypervisorProvider p = AdapterSources.resolve(adapter, null).orElseThrow();
        out.printf("adapter %s: handshake (hello) answered%n", adapter);
        out.printf("  provider:      %s %s (%s)%n", p.id(), p.version(), p.description());
        out.printf("  architectures: %s%n", p.architectures().stream().map(Enum::name).sorted().toList());
        out.printf("  capabilities:  %s%n", p.capabilities().stream().map(Enum::name).sorted().toList());
        out.printf("  timing:        %s%n", p.timing());
        Availability a = p.availability();
        out.printf("  available:     %s%n", a.available() ? "yes" : "no: " + a.reason());
        if (p instanceof AdapterProvider ap) {
            out.printf("  guest RAM:     %s%n", ap.memoryMode());
        }
        int exit = ExitCodes.CONFORMS;
        if (a.available()) {
            for (Architecture arch : p.architectures()) {
                VmSpec vm = GuestLayout.forProvider(p).spec(arch, 1);
                try (Vm v = p.open(vm)) {
                    out.printf("  open %s VM (1 vCPU, RAM %s): ok%s; closed%n", arch, vm.ram(),
                            v.memory().sharing() == GuestMemory.Sharing.LIVE
                                    ? ", memory.write/memory.read agree with the RAM file it shares" : ", RAM sampled by the adapter");
                } catch (RuntimeException e) {
                    out.printf("  open %s VM (1 vCPU, RAM %s): FAILED: %s%n", arch, vm.ram(), e.getMessage());
                    exit = 1;
                }
            }
        }
        AdapterSources.closeAll();
        return exit;
    }
}
