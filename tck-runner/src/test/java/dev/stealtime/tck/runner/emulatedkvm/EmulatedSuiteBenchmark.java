package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.ProgressListener;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.TckRun;
import dev.stealtime.tck.runner.selftest.x86.X86SuiteBenchmark;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.support.ProviderGuard;
import dev.stealtime.tck.support.TckConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Not a test: prints what the emulated machines cost, for each {@link Guest} asked for (default
 * both, x86 first): the preparation with its boot (the machine boots once per run, never per test),
 * then the guest's suite run {@code RUNS} times against that one machine (goals: x86 ≤ 30 s, arm64
 * ≤ 15 s), and for x86 the torn-read race's samples per second through the adapter's sampling.
 * <pre>
 *   java -cp "tck-runner/target/test-classes:tck-runner/target/classes:tck-runner/target/lib/*" \
 *        dev.stealtime.tck.runner.emulatedkvm.EmulatedSuiteBenchmark [x86_64|arm64]... [RUNS]
 * </pre>
 * Figures taken while other builds share the CPUs are not evidence: the line says the load average.
 */
public final class EmulatedSuiteBenchmark {

    private EmulatedSuiteBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        List<Guest> guests = new ArrayList<>();
        int runs = 2;
        for (String a : args) {
            if (a.matches("\\d+")) {
                runs = Integer.parseInt(a);
            } else {
                guests.add(a.startsWith("x86") ? Guest.X86_64 : Guest.ARM64);
            }
        }
        if (guests.isEmpty()) {
            guests = List.of(Guest.X86_64, Guest.ARM64);
        }
        TckConfig config = TckConfig.fromEnvironment();
        for (Guest guest : guests) {
            EmulatedKvmProvider raw = new EmulatedKvmProvider(guest);
            HypervisorProvider provider = ProviderGuard.wrap(raw, config);
            long t0 = System.nanoTime();
            boolean available = provider.availability().available();   // prepares: image check and boot
            double prepared = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%s: prepared in %.1f s (boot %s), %s, load average %s%n", guest.providerId, prepared,
                    raw.machine().getOrDefault("boot", "-"), raw.machine().getOrDefault("accelerator", "-"), load());
            if (!available) {
                System.out.println("  unavailable: " + provider.availability().reason());
                raw.shutdown();
                continue;
            }
            Suite suite = guest == Guest.X86_64 ? Suite.X86 : Suite.ARM64;
            for (int i = 1; i <= runs; i++) {
                long s = System.nanoTime();
                RunResult r = new TckRun(provider, config, List.of(suite), ProgressListener.SILENT).execute();
                System.out.printf("  %s suite run %d: %.1f s wall, %d rules PASS, %d FAIL, %d NOT_APPLICABLE, load average %s%n",
                        suite.cliName, i, (System.nanoTime() - s) / 1e9, r.count(Outcome.PASS), r.count(Outcome.FAIL),
                        r.count(Outcome.NOT_APPLICABLE), load());
            }
            if (guest == Guest.X86_64) {
                System.out.println("  torn-read race: " + X86SuiteBenchmark.race(provider, config));
            }
            System.out.printf("  machines booted: %d%n", raw.machinesBooted());
            raw.shutdown();
        }
        System.exit(0);
    }

    private static String load() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "?";
        }
    }
}
