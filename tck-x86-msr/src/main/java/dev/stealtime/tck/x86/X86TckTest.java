package dev.stealtime.tck.x86;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.VmSpec;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.TckTest;
import org.testng.annotations.DataProvider;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.hex;

/**
 * Base of the x86 suite's classes: VMs of the standard layout, seen through {@link StealTimeVm} and
 * {@link StealTimeVcpu} (which also hold the update bound every wait for an update observes), the
 * data-driven cases of where a value is written and by whom, and durations that suit both an exact
 * provider (virtual time: free) and a measured one (real KVM: modest, scaled by the configured
 * multiplier, and long enough to stand out against the declared tolerance).
 */
public abstract class X86TckTest extends TckTest {

    @Override
    protected final Architecture architecture() {
        return Architecture.X86_64;
    }

    /** A one-vCPU VM on the standard layout. */
    protected StealTimeVm openStealTimeVm() {
        return openStealTimeVm(1);
    }

    protected StealTimeVm openStealTimeVm(int vcpus) {
        return new StealTimeVm(openVm(vcpus), this::timing);
    }

    protected StealTimeVm openStealTimeVm(VmSpec spec) {
        return new StealTimeVm(openVm(spec), this::timing);
    }

    /** Closes a VM before the test ends (a migration's source). */
    /** The VMM adds a vCPU to the running {@code vm} ({@link dev.stealtime.tck.spi.Vm#hotplugVcpu()}). */
    protected StealTimeVcpu hotplugVcpu(StealTimeVm vm) {
        dev.stealtime.tck.spi.Vcpu v = hotplugVcpu(vm.vm());
        if (!(v instanceof dev.stealtime.tck.spi.X86Vcpu x)) {
            throw new IllegalStateException("an x86-64 VM added a " + v.getClass().getName() + ", not an X86Vcpu");
        }
        return new StealTimeVcpu(x, vm.vm(), this::timing);
    }

    /** The VMM migrates {@code vm} live into a new VM ({@link dev.stealtime.tck.spi.Vm#liveMigrate()}). */
    protected StealTimeVm liveMigrate(StealTimeVm vm) {
        return new StealTimeVm(liveMigrate(vm.vm()), this::timing);
    }

    /** The VMM saves {@code vm} and restores it into a new VM ({@link dev.stealtime.tck.spi.Vm#saveAndRestore()}). */
    protected StealTimeVm saveAndRestore(StealTimeVm vm) {
        return new StealTimeVm(saveAndRestore(vm.vm()), this::timing);
    }

    protected void closeVm(StealTimeVm vm) {
        closeVm(vm.vm());
    }

    /** Every {@link Place} × every {@link Path}: where a value is written, and by whom. */
    @DataProvider
    public Object[][] placesAndPaths() {
        List<Object[]> cases = new ArrayList<>();
        for (Place place : Place.values()) {
            for (Path path : Path.values()) {
                cases.add(new Object[]{place, path});
            }
        }
        return cases.toArray(Object[][]::new);
    }

    /** One case of {@link #placesAndPaths()}: named in the report, NOT APPLICABLE without its capabilities. */
    protected void requireCase(Place place, Path path) {
        Evidence.parameter("address", place.label + " (" + hex(place.gpa(layout())) + ")");
        Evidence.parameter("path", path);
        require(place);
        require(path);
    }

    /** NOT APPLICABLE unless the provider can take the path. */
    protected void require(Path path) {
        if (path == Path.HOST) {
            require(Capability.HOST_MSR_ACCESS);
        }
    }

    protected void require(Place place) {
        if (place == Place.HIGH) {
            require(Capability.HIGH_MEMORY);
        }
    }

    /** Slack on each timing bound, ns (0 with an exact provider: bounds are equalities). */
    protected long tolerance() {
        return timing().toleranceNanos();
    }

    /**
     * A preemption of about {@code base} (scaled), and at least five times the tolerance so the
     * steal it causes stands out against the slack of a measured provider.
     */
    protected Duration preemption(Duration base) {
        return timing().measurable(base);
    }

    /** {@link Op#mixedWorkload}: {@code rounds} rounds of preempt + run, run, idle, CPUID, RDMSR. */
    protected List<Op> mixedWorkload(int rounds) {
        return Op.mixedWorkload(timing(), rounds);
    }
}
