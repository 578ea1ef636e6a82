package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.runner.selftest.DetectionTable;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants;
import dev.stealtime.tck.runner.selftest.x86.X86FaultyVariants;
import dev.stealtime.tck.support.TckConfig;
import org.testng.annotations.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every faulty variant of the self-tests, served through the adapter protocol (a Unix socket, the
 * guest RAM in a shared file), is caught by the same rule as in-process and falsely accuses none.
 * The variants a race catches are also served as a sampling adapter (the provider's readers load,
 * the TCK grades afterwards): the race catches them there too. Table in
 * {@code target/detection-protocol.txt}.
 */
public class ProtocolDetectionTest {

    private static final Set<String> RACES = Set.of("X86-TORN-READ", "X86-VERSION-ADVANCES", "ARM-ATOMIC-UPDATE");
    /** Rules whose tests need a capability the protocol cannot carry (AdapterServer.NOT_IN_PROTOCOL): NOT APPLICABLE through it. */
    static final Set<String> NOT_THROUGH_THE_PROTOCOL = Set.of("X86-RESTORE-CONTINUES", "ARM-RESTORE-CONTINUES",
            "X86-LIVE-MIGRATION-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES", "X86-HOTPLUG-OFFERED", "ARM-REGION-RESERVED", "ARM-REGION-DISTINCT");

    /**
     * The self-tests' configuration; a variant a race must catch races for longer (2 s by default,
     * {@code tck.selftest.protocol.race.budget}; 6 s on sampled memory,
     * {@code tck.selftest.sampled.race.budget}): through a protocol each update costs a few round
     * trips (on sampled memory also one per published bound), so a race sees fewer updates per
     * second than in-process, and a defect whose window is a few nanoseconds needs more of them.
     */
    static TckConfig config(FaultyVariant v, boolean sampled) {
        TckConfig c = DetectionTable.selfTestConfig();
        if (v.mustFail().stream().noneMatch(RACES::contains)) {
            return c;
        }
        return c.with(TckConfig.Key.RACE_BUDGET, sampled ? System.getProperty("tck.selftest.sampled.race.budget", "6s")
                : System.getProperty("tck.selftest.protocol.race.budget", "2s"));
    }

    @Test
    public void everyFaultyVariantIsCaughtByItsRuleThroughTheProtocol() throws IOException {
        List<String> problems = new ArrayList<>();
        StringBuilder table = new StringBuilder(String.format("%-36s %-6s %-8s %s%n", "VARIANT", "SUITE", "MEMORY", "RULES FAILED THROUGH THE PROTOCOL"));
        int runs = 0;
        for (Suite suite : List.of(Suite.X86, Suite.ARM64)) {
            List<FaultyVariant> variants = suite == Suite.X86 ? X86FaultyVariants.all() : Arm64FaultyVariants.all();
            for (FaultyVariant v : variants) {
                if (NOT_THROUGH_THE_PROTOCOL.containsAll(v.mustFail())) {
                    table.append(String.format("%-36s %-6s %-8s %s%n", v.name(), suite.cliName, "-", "not run: its rule needs VMM_SAVE_RESTORE, "
                            + "VMM_LIVE_MIGRATION, VCPU_HOTPLUG or GUEST_DEVICE_TREE, which the protocol cannot carry"));
                    continue;
                }
                List<Boolean> modes = new ArrayList<>(List.of(false));
                if (v.mustFail().stream().anyMatch(RACES::contains)) {
                    modes.add(true);
                }
                for (boolean sampled : modes) {
                    try (InProcessAdapter adapter = new InProcessAdapter(v.provider(), sampled)) {
                        RunResult r = new TckRun(adapter.provider, config(v, sampled), List.of(suite), ProgressListener.SILENT).execute();
                        List<String> failed = r.failedRuleIds();
                        runs++;
                        table.append(String.format("%-36s %-6s %-8s %s%n", v.name(), suite.cliName, sampled ? "sampled" : "shared", failed));
                        Set<String> missing = new TreeSet<>(v.mustFail());
                        missing.removeAll(failed);
                        if (sampled) {
                            missing.retainAll(RACES);       // the sampled run is about the races
                        }
                        Set<String> allowed = new HashSet<>(v.mustFail());
                        allowed.addAll(v.mayAlsoFail());
                        Set<String> accused = new TreeSet<>(failed);
                        accused.removeAll(allowed);
                        String where = v.name() + " (" + (sampled ? "sampled" : "shared") + " memory)";
                        if (!missing.isEmpty()) {
                            problems.add(where + " ESCAPED through the protocol: " + missing + " did not fail (failed: " + failed + ")");
                        }
                        if (!accused.isEmpty()) {
                            problems.add(where + " FALSELY ACCUSED through the protocol: " + accused + "; messages: "
                                    + r.rules().stream().filter(x -> accused.contains(x.rule().id())).map(x -> x.message()).toList());
                        }
                    }
                }
            }
        }
        String text = table + (problems.isEmpty() ? "\nno problems\n" : "\nPROBLEMS\n" + String.join("\n", problems) + "\n");
        System.out.println(text);
        Path out = Path.of("target", "detection-protocol.txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, text);
        assertThat(problems).as("variants the protocol path lets escape or falsely accuses:%n%s", text).isEmpty();
        assertThat(runs).as("runs through the protocol").isGreaterThan(20);
    }
}
