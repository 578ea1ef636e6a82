package dev.stealtime.tck.runner;

import dev.stealtime.tck.runner.adapter.AdapterSources;
import dev.stealtime.tck.runner.cli.CoverageCommand;
import dev.stealtime.tck.runner.cli.MergeCommand;
import dev.stealtime.tck.runner.cli.ProvidersCommand;
import dev.stealtime.tck.runner.cli.ReplayCommand;
import dev.stealtime.tck.runner.cli.RulesCommand;
import dev.stealtime.tck.runner.cli.RunCommand;
import dev.stealtime.tck.runner.cli.ServeCommand;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.result.TckJars;
import dev.stealtime.tck.support.ProviderException;
import picocli.CommandLine.Command;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/**
 * {@code tck}: the command line. Exit codes: 0 CONFORMS, 1 DOES NOT CONFORM (a gating rule failed),
 * 2 bad usage or configuration, 3 internal error of the TCK, 4 NOT TESTED, 5 PARTIAL (only the rules
 * selected by {@code --rule} ran), 130 INTERRUPTED.
 */
@Command(name = "tck", mixinStandardHelpOptions = true, versionProvider = TckCli.Version.class,
        description = {
                "Steal-Time TCK: tests a hypervisor's steal-time interfaces (x86 MSR_KVM_STEAL_TIME, arm64 PV time)",
                "rule by rule against the catalogue, and reports where it conforms.",
                ""},
        subcommands = {RulesCommand.class, ProvidersCommand.class, RunCommand.class, CoverageCommand.class,
                ServeCommand.class, MergeCommand.class, ReplayCommand.class},
        footer = {"",
                "Examples:",
                "  tck rules                              list every rule with its level",
                "  tck coverage                           which tests prove which rule",
                "  tck providers                          which hypervisors can be tested here",
                "  tck run                                both suites against the reference hypervisor",
                "  tck run --provider kvm --suite x86     this machine's Linux KVM",
                "  tck run --provider kvm --rule 'X86-ALIGN-*'   only those rules (verdict PARTIAL, exit 5)",
                "  tck run --provider-jar my.jar --provider mine --profile required",
                "  tck merge cells/* --out matrix         one conformance matrix of many runs (docs/ci-matrix.md)",
                "",
                "Exit codes: 0 CONFORMS, 1 DOES NOT CONFORM (a gating rule failed), 2 usage or configuration",
                "error, 3 internal error of the TCK, 4 NOT TESTED (nothing claimed could be tested),",
                "5 PARTIAL (only the rules selected by --rule ran, none failed), 130 INTERRUPTED.",
                "'tck run --help' explains each."})
public final class TckCli implements Callable<Integer> {

    public static final int CONFORMS = ExitCodes.CONFORMS;
    public static final int GATING_FAILURE = ExitCodes.GATING_FAILURE;
    public static final int USAGE = ExitCodes.USAGE;
    public static final int INTERNAL = ExitCodes.INTERNAL;
    public static final int NOT_TESTED = ExitCodes.NOT_TESTED;
    public static final int PARTIAL = ExitCodes.PARTIAL;
    public static final int INTERRUPTED = ExitCodes.INTERRUPTED;
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
            return new String[]{"Steal-Time TCK " + TckJars.version()};
        }
    }
}
