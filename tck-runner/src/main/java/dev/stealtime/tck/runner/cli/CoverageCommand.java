package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.SuiteScanner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tck coverage}: the assertion inventory, rule → the tests that prove it, and the gaps. */
@Command(name = "coverage", mixinStandardHelpOptions = true,
        description = {"Print the assertion inventory: for every rule, the tests that prove it.",
                "Exits 1 when a rule has no test, a test names an unknown rule, or a test's group is not its rule's level."})
public final class CoverageCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--suite", paramLabel = "x86|arm64|all", defaultValue = "all", description = "Which suite(s) (default: ${DEFAULT-VALUE}).")
    String suite;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<String> problems = new ArrayList<>();
        int covered = 0;
        int total = 0;
        for (Suite s : Suite.parse(suite)) {
            List<SuiteScanner.TestMethod> tests = SuiteScanner.testMethods(s);
            problems.addAll(problems(s, tests));
            for (Rule r : RuleCatalogue.get().suite(s.cliName)) {
                total++;
                List<String> names = tests.stream().filter(t -> t.ruleIds().contains(r.id())).map(SuiteScanner.TestMethod::name).toList();
                covered += names.isEmpty() ? 0 : 1;
                out.printf("%-26s %-10s %s%n", r.id(), r.level(), names.isEmpty() ? "NO TEST" : String.join(", ", names));
            }
        }
        out.printf("%d of %d rules covered%n", covered, total);
        problems.forEach(p -> out.println("PROBLEM: " + p));
        return problems.isEmpty() ? ExitCodes.CONFORMS : ExitCodes.GATING_FAILURE;
    }

    /** Rules without a test, tests naming unknown rules or none, and tests whose group is not their rule's level. */
    public static List<String> problems(Suite s, List<SuiteScanner.TestMethod> tests) {
        RuleCatalogue cat = RuleCatalogue.get();
        List<String> problems = new ArrayList<>();
        for (SuiteScanner.TestMethod t : tests) {
            if (t.ruleIds().isEmpty()) {
                problems.add(t.name() + " has no @TckRule");
            }
            for (String id : t.ruleIds()) {
                if (!cat.contains(id)) {
                    problems.add(t.name() + " names unknown rule " + id);
                } else if (!cat.rule(id).suite().equals(s.cliName)) {
                    problems.add(t.name() + " names " + id + ", a rule of another suite");
                } else if (!t.groups().contains(cat.rule(id).level().group())) {
                    problems.add(t.name() + " proves " + id + " (" + cat.rule(id).level() + ") but is in groups " + t.groups());
                }
            }
        }
        for (Rule r : cat.suite(s.cliName)) {
            if (tests.stream().noneMatch(t -> t.ruleIds().contains(r.id()))) {
                problems.add(r.id() + " has no test");
            }
        }
        return problems;
    }
}
