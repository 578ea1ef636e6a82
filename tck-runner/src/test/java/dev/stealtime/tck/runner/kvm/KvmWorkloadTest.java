package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.X86Vcpu;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.annotations.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * run / preempt / idle against real KVM, checked with the provider's own declared tolerance: the
 * guest-visible steal grows by the induced preemption (bounded above by the vCPU thread's
 * run_delay) and not while the guest is halted.
 */
public class KvmWorkloadTest extends KvmTestSupport {

    private static final long MS = 1_000_000;

    @Test
    public void runLastsAboutTheRequestedTime() {
        X86Vcpu v = open(1, true);
        v.run(Duration.ofMillis(5)); // calibrated busy loop settles
        long t0 = System.nanoTime();
        v.run(Duration.ofMillis(20));
        long took = System.nanoTime() - t0;
        assertThat(took).isBetween(20 * MS, 20 * MS + 10 * MS);
    }

    @Test
    public void preemptRaisesGuestStealByTheInducedTimeAndNoMoreThanRunDelay() {
        X86Vcpu v = open(1, true);
        register(v, GPA);
        v.run(Duration.ofMillis(2));
        long tol = toleranceNanos();
        long s0 = steal(GPA);
        long r0 = v.hostStealMeasureNanos();
        v.preempt(Duration.ofMillis(20));
        long steal = steal(GPA) - s0;
        long runDelay = v.hostStealMeasureNanos() - r0;
        assertThat(steal).as("steal delta (ns), run_delay delta %d ns", runDelay)
                .isGreaterThanOrEqualTo(20 * MS - tol)
                .isLessThanOrEqualTo(runDelay + tol);
        assertThat(runDelay).as("run_delay delta (ns)").isGreaterThanOrEqualTo(20 * MS);
    }

    @Test
    public void stealIsInNanosecondsAcrossSeveralPreemptions() {
        X86Vcpu v = open(1, true);
        register(v, GPA);
        v.run(Duration.ofMillis(2));
        long tol = toleranceNanos();
        for (int d : new int[] {5, 20, 50}) {
            long s0 = steal(GPA);
            long r0 = v.hostStealMeasureNanos();
            v.preempt(Duration.ofMillis(d));
            long steal = steal(GPA) - s0;
            long runDelay = v.hostStealMeasureNanos() - r0;
            assertThat(steal).as("preempt(%d ms): steal delta (ns), run_delay delta %d ns", d, runDelay)
                    .isGreaterThanOrEqualTo(d * MS - tol)
                    .isLessThanOrEqualTo(runDelay + tol);
        }
    }

    @Test
    public void idleUnderContentionAddsNoSteal() {
        X86Vcpu v = open(1, true);
        register(v, GPA);
        v.run(Duration.ofMillis(2));
        long s0 = steal(GPA);
        long t0 = System.nanoTime();
        v.idle(Duration.ofMillis(20));
        long took = System.nanoTime() - t0;
        v.run(Duration.ofMillis(1)); // the entry after the halt records whatever KVM counts
        long steal = steal(GPA) - s0;
        assertThat(took).as("idle(20 ms) wall time").isGreaterThanOrEqualTo(20 * MS);
        assertThat(steal).as("steal added by idle(20 ms) under contention (ns)").isLessThanOrEqualTo(toleranceNanos());
    }

    @Test
    public void idleReallyHaltsAndTheVcpuKeepsWorkingAfterwards() {
        X86Vcpu v = open(1, true);
        v.idle(Duration.ZERO);
        v.idle(Duration.ofMillis(1));
        assertThat(v.guestWrmsr(MSR, GPA | 1).faulted()).isFalse();
        assertThat(v.guestRdmsr(MSR).value()).isEqualTo(GPA | 1);
        v.run(Duration.ofMillis(1));
    }

    @Test
    public void eachVcpuHasItsOwnThreadAndItsOwnSteal() {
        open(2, true);
        X86Vcpu a = vcpu(0);
        X86Vcpu b = vcpu(1);
        long gpaB = GuestLayout.low(1);
        register(a, GPA);
        register(b, gpaB);
        KvmVcpu ka = (KvmVcpu) a;
        KvmVcpu kb = (KvmVcpu) b;
        assertThat(ka.tid()).isNotEqualTo(kb.tid());
        a.run(Duration.ofMillis(1));
        b.run(Duration.ofMillis(1));
        long sb = steal(gpaB);
        long sa = steal(GPA);
        a.preempt(Duration.ofMillis(20));
        b.run(Duration.ofMillis(1));
        assertThat(steal(GPA) - sa).isGreaterThanOrEqualTo(20 * MS - toleranceNanos());
        assertThat(steal(gpaB) - sb).as("vCPU 1 was not preempted").isLessThanOrEqualTo(toleranceNanos());
    }
}
