package dev.stealtime.tck.runner.selftest;

import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.reference.StealTimeMsr;
import dev.stealtime.tck.runner.reference.StolenTime;
import dev.stealtime.tck.runner.result.Outcome;
import dev.stealtime.tck.runner.result.RunResult;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.spi.TimingPrecision;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Workload durations against a wide declared tolerance (both suites size them with
 * {@link dev.stealtime.tck.support.Timing#measurable}: at least five tolerances). The reference
 * declared {@code measured(±20 ms)} must still pass every rule, and a hypervisor that reports no
 * stolen time at all must fail the accounting rule at ±20 ms as it does when exact (it once passed
 * ARM-STEAL-ACCOUNTS: 0.5–5 ms preemptions checked at ±20 ms have a negative lower bound).
 */
public class WideToleranceTest {

    static final TimingPrecision WIDE = TimingPrecision.measured(Duration.ofMillis(20));

    static ReferenceProvider wide(String id, ReferenceParts parts) {
        return new ReferenceProvider(id, "the reference declaring measured timing (±20 ms)", parts) {
            @Override
            public TimingPrecision timing() {
                return WIDE;
            }
        };
    }

    /** Reports no steal at all, in either architecture. */
    static ReferenceParts noStolenTime() {
        return new ReferenceParts() {
            @Override
            public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
                return new StealTimeMsr(ram, offered) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return 0;
                    }
                };
            }

            @Override
            public StolenTime stolenTime(GuestRam ram) {
                return new StolenTime(ram) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return 0;
                    }
                };
            }
        };
    }

    @DataProvider
    public Object[][] suites() {
        return new Object[][]{{Suite.X86, "X86-STEAL-ACCOUNTS"}, {Suite.ARM64, "ARM-STEAL-ACCOUNTS"}};
    }

    @Test(dataProvider = "suites")
    public void theReferenceAtTwentyMillisecondsPassesEveryRule(Suite suite, String accounting) {
        RunResult r = DetectionTable.run(wide("reference-wide", new ReferenceParts()), suite);
        assertThat(r.rules().stream().filter(rr -> rr.outcome() != Outcome.PASS)
                .map(rr -> rr.rule().id() + " " + rr.outcome() + ": " + rr.message()).toList())
                .as("%s rules not passing against the reference declared ±20 ms", suite.cliName).isEmpty();
    }

    @Test(dataProvider = "suites")
    public void noStolenTimeAtTwentyMillisecondsFailsTheAccountingRule(Suite suite, String accounting) {
        RunResult r = DetectionTable.run(wide("faulty-wide:no-stolen-time", noStolenTime()), suite);
        assertThat(r.failedRuleIds()).as("%s: a hypervisor reporting no stolen time, declared ±20 ms", suite.cliName).contains(accounting);
    }
}
