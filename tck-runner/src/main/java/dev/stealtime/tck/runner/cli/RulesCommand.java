package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.run.Suite;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tck rules}: the rule catalogue. */
@Command(name = "rules", mixinStandardHelpOptions = true,
        description = "Print the rule catalogue: id, level, area and statement.")
public final class RulesCommand implements Callable<Integer> {
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
        return ExitCodes.CONFORMS;
    }
}
