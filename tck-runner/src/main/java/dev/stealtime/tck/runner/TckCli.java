package dev.stealtime.tck.runner;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.ProviderException;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.Providers;
import dev.stealtime.tck.support.TckConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code tck}: the command line. Exit codes: 0 CONFORMS, 1 DOES NOT CONFORM (a gating rule failed),
 * 2 bad usage or configuration, 3 internal error of the TCK, 4 NOT TESTED, 130 INTERRUPTED.
 */
@Command(name = "tck", mixinStandardHelpOptions = true, versionProvider = TckCli.Version.class,
        description = {
                "Steal-Time TCK: tests a hypervisor's steal-time interfaces (x86 MSR_KVM_STEAL_TIME, arm64 PV time)",
                "rule by rule against the catalogue, and reports where it conforms.",
                ""},
        subcommands = {TckCli.RulesCommand.class, TckCli.ProvidersCommand.class, RunCommand.class, CoverageCommand.class,
                ServeCommand.class, dev.stealtime.tck.runner.merge.MergeCommand.class,
                dev.stealtime.tck.runner.replay.ReplayCommand.class},
        footer = {"",
                "Examples:",
                "  tck rules                              list every rule with its level",
                "  tck coverage                           which tests prove which rule",
                "  tck providers                          which hypervisors can be tested here",
                "  tck run                                both suites against the reference hypervisor",
                "  tck run --provider kvm --suite x86     this machine's Linux KVM",
                "  tck run --provider-jar my.jar --provider mine --profile required",
                "  tck merge cells/* --out matrix         one conformance matrix of many runs (docs/ci-matrix.md)",
                "",
                "Exit codes: 0 CONFORMS, 1 DOES NOT CONFORM (a gating rule failed), 2 usage or configuration",
                "error, 3 internal error of the TCK, 4 NOT TESTED (nothing claimed could be tested),",
                "130 INTERRUPTED. 'tck run --help' explains each."})
public final class TckCli implements Callable<Integer> {

    public static final int CONFORMS = 0;
    public static final int GATING_FAILURE = 1;
    public static final int USAGE = 2;
    public static final int INTERNAL = 3;
    public static final int NOT_TESTED = 4;
    public static final int INTERRUPTED = 130;
    /** Wide enough that no description or property name is cut. */
    static final int HELP_WIDTH = 120;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (used by tests too). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new TckCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setUsageHelpWidth(HELP_WIDTH);
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            err.println("tck: " + ex.getMessage().strip().replace('\n', ' ') + " (try '" + c.getCommandSpec().qualifiedName() + " --help')");
            return USAGE;
        });
        cl.setExecutionExceptionHandler((ex, c, parse) -> {
            if (ex instanceof UsageException || ex instanceof IllegalArgumentException) {
                err.println("tck: " + ex.getMessage());
                return USAGE;
            }
            if (ex instanceof ProviderException) {
                // the vendor's error, not the TCK's: its message and first frames
                err.println("tck: " + ex.getMessage());
                return GATING_FAILURE;
            }
            err.println("tck: internal error: " + ex);
            if (Boolean.getBoolean("tck.debug")) {
                ex.printStackTrace(err);
            } else {
                err.println("(run with -Dtck.debug=true for the stack trace)");
            }
            return INTERNAL;
        });
        try {
            return cl.execute(args);
        } finally {
            AdapterSources.closeAll();
        }
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return USAGE;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"Steal-Time TCK " + ConformanceSummary.tckVersion()};
        }
    }

    @Command(name = "rules", mixinStandardHelpOptions = true,
            description = "Print the rule catalogue: id, level, area and statement.")
    static final class RulesCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--suite", paramLabel = "x86|arm64|all", defaultValue = "all", description = "Which interface's rules (default: ${DEFAULT-VALUE}).")
        String suite;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<Suite> suites = Suite.parse(suite);
            out.printf("%-26s %-10s %-24s %s%n", "RULE", "LEVEL", "AREA", "STATEMENT");
            int n = 0;
            for (Rule r : RuleCatalogue.get().all()) {
                if (suites.stream().anyMatch(s -> s.cliName.equals(r.suite()))) {
                    out.printf("%-26s %-10s %-24s %s%n", r.id(), r.level(), r.area(), r.statement());
                    n++;
                }
            }
            out.printf("%d rules%n", n);
            return CONFORMS;
        }
    }

    @Command(name = "providers", mixinStandardHelpOptions = true,
            description = {"List the hypervisor providers found (built in, and in --provider-jar jars): whether each is available",
                    "here and why not, its architectures, timing and declared capabilities (a missing capability makes",
                    "the tests needing it NOT APPLICABLE), and where it was loaded from. A provider that fails to load",
                    "gets a line with the vendor's reason; an id declared twice is flagged (tck run refuses it)."})
    static final class ProvidersCommand implements Callable<Integer> {
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
            return CONFORMS;
        }
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
        if (p instanceof dev.stealtime.tck.runner.adapter.AdapterProvider ap) {
            out.printf("  guest RAM:     %s%n", ap.memoryMode());
        }
        int exit = CONFORMS;
        if (a.available()) {
            for (dev.stealtime.tck.spi.Architecture arch : p.architectures()) {
                dev.stealtime.tck.spi.VmSpec vm = dev.stealtime.tck.support.GuestLayout.forProvider(p).spec(arch, 1);
                try (dev.stealtime.tck.spi.Vm v = p.open(vm)) {
                    out.printf("  open %s VM (1 vCPU, RAM %s): ok%s; closed%n", arch, vm.ram(),
                            v.memory().sharing() == dev.stealtime.tck.spi.GuestMemory.Sharing.LIVE
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

    /** Builds the configuration from flags over properties over environment, validated. */
    static TckConfig config(String provider, String profiles, String raceBudget, String multiplier) {
        return TckConfig.fromEnvironment()
                .with(TckConfig.Key.PROVIDER, provider)
                .with(TckConfig.Key.PROFILES, profiles)
                .with(TckConfig.Key.RACE_BUDGET, raceBudget)
                .with(TckConfig.Key.TIMING_MULTIPLIER, multiplier)
                .validate();
    }
}
