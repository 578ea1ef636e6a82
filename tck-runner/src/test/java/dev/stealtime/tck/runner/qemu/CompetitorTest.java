package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.HostRequirement;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;
import org.testng.annotations.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The competitor helper ({@code native/qemu/competitor.c}, built with gcc) against a thread that never
 * runs (a sleeping process): the moment a hold waits for never comes, so the caller's {@code cancel}
 * ends the wait with "missed", and the helper stays in step for the next request. No QEMU, no KVM.
 */
public class CompetitorTest {

    private Process sleeper;
    private Competitor competitor;

    @BeforeMethod
    public void start() throws IOException {
        HostRequirement.requireOrSkip("qemu", "the competitor helper (gcc)", "gcc");
        sleeper = new ProcessBuilder("sleep", "60").start();
        competitor = Competitor.start(NativeBuild.competitor());
    }

    @AfterMethod(alwaysRun = true)
    public void stop() throws InterruptedException {
        if (competitor != null) {
            competitor.close();
        }
        if (sleeper != null) {
            sleeper.destroy();
            sleeper.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private int tid() {
        return (int) sleeper.pid();     // a single-threaded process: its thread id is its pid
    }

    @Test
    public void aPreemptionWhoseThreadNeverRunsIsMissedOnCancelAndTheHelperStaysInStep() throws Exception {
        competitor.startPreempt(tid(), 0, Duration.ofMillis(1));
        Thread.sleep(200);
        competitor.cancel();
        assertThat(competitor.awaitHold()).as("a hold cancelled before its thread ran").isFalse();
        competitor.pin(tid(), 0);      // the next request gets its own answer
    }

    @Test
    public void anIdleWhoseThreadNeverWakesIsMissedOnCancel() throws Exception {
        competitor.armIdle(tid(), 0, Duration.ofMillis(1));
        Thread.sleep(200);
        competitor.cancel();
        assertThat(competitor.awaitHold()).as("an idle hold cancelled before its thread woke").isFalse();
    }

    @Test
    public void aLateCancelIsIgnoredWithoutAnAnswer() throws Exception {
        competitor.cancel();           // no hold waiting: nothing to answer
        competitor.pin(tid(), 0);
        competitor.cancel();
        competitor.pin(tid(), 0);
    }

    @Test
    public void aHoldOfAThreadThatIsGoneFailsWithTheHelpersReason() throws Exception {
        sleeper.destroy();
        sleeper.waitFor(5, TimeUnit.SECONDS);
        competitor.startPreempt(tid(), 0, Duration.ofMillis(1));
        assertThatThrownBy(competitor::awaitHold).isInstanceOf(IOException.class).hasMessageContaining("competitor helper: err");
    }
}
