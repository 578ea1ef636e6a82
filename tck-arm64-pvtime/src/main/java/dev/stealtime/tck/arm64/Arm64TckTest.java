package dev.stealtime.tck.arm64;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.TckTest;

import java.time.Duration;
import java.util.List;

/**
 * Base of the arm64 suite's classes: VMs of the standard layout, seen through {@link PvTimeVm},
 * and durations scaled by the timing multiplier. Durations stay modest (milliseconds) so that a
 * measured provider on real hardware runs the suite in seconds.
 */
public abstract class Arm64TckTest extends TckTest {

    @Override
    protected final Architecture architecture() {
        return Architecture.ARM64;
    }

    /** A VM with PV time offered; nothing configured yet. */
    protected PvTimeVm openPvTimeVm(int vcpus) {
        return new PvTimeVm(openVm(vcpus), shortRun());
    }

    /**
     * A VM as a whole VMM boots its guest: the VMM placed every vCPU's structure and gave the guest a
     * device tree (NOT APPLICABLE without GUEST_DEVICE_TREE).
     */
    protected PvTimeVm openVmmPlacedPvTimeVm(int vcpus) {
        if (vcpus > 1) {
            require(Capability.MULTI_VCPU);
        }
        return new PvTimeVm(openVm(layout().spec(architecture(), vcpus).withVmmPlacement()), shortRun());
    }

    /** A VM whose vCPUs lack PV time (NOT APPLICABLE without WITHHOLD_STEAL_TIME). */
    protected PvTimeVm openVmWithoutPvTime(int vcpus) {
        if (vcpus > 1) {
            require(Capability.MULTI_VCPU);
        }
        return new PvTimeVm(openVm(layout().spec(architecture(), vcpus).withStealTimeOffered(false)), shortRun());
    }

    /** {@code millis} scaled by the timing multiplier. */
    /** The VMM migrates {@code vm} live into a new VM ({@link dev.stealtime.tck.spi.Vm#liveMigrate()}). */
    protected PvTimeVm liveMigrate(PvTimeVm vm) {
        return new PvTimeVm(liveMigrate(vm.vm()), shortRun());
    }

    /** The VMM saves {@code vm} and restores it into a new VM ({@link dev.stealtime.tck.spi.Vm#saveAndRestore()}). */
    protected PvTimeVm saveAndRestore(PvTimeVm vm) {
        return new PvTimeVm(saveAndRestore(vm.vm()), shortRun());
    }

    protected Duration millis(double millis) {
        return timing().scaled(Duration.ofNanos(Math.round(millis * 1_000_000)));
    }

    /**
     * A preemption or WFI of about {@code millis} (scaled) whose effect is checked against the
     * tolerance: never shorter than five times it ({@link dev.stealtime.tck.support.Timing#measurable}, shared with the x86 suite).
     */
    protected Duration measurable(double millis) {
        return timing().measurable(Duration.ofNanos(Math.round(millis * 1_000_000)));
    }

    /** How long the guest runs when it only needs to be scheduled in. */
    protected Duration shortRun() {
        return millis(0.2);
    }

    /** Slack on each bound, ns (0 for exact providers). */
    protected long tolerance() {
        return timing().toleranceNanos();
    }

    protected boolean exact() {
        return timing().exact();
    }

    /** Attach a table of calls and results (errno tables, hypercall tables) to the report. */
    protected static void table(String title, List<?> rows) {
        StringBuilder sb = new StringBuilder();
        rows.forEach(r -> sb.append(r).append('\n'));
        Evidence.text(title, sb.toString());
    }
}
