package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.annotations.AfterMethod;
import org.testng.annotations.BeforeMethod;

import java.util.ArrayList;
import java.util.List;

/**
 * Base of every suite class: finds the provider, turns a missing architecture, capability or an
 * unavailable provider into NOT APPLICABLE (with the reason), turns any other skip into a failure
 * ({@link UndeclaredSkipIsFailure}, also under a vendor's plain surefire), and closes every VM a test
 * opened.
 */
public abstract class TckTest extends UndeclaredSkipIsFailure {

    private final List<Vm> open = new ArrayList<>();

    /** The architecture this suite tests. */
    protected abstract Architecture architecture();

    protected HypervisorProvider provider() {
        return TckContext.provider();
    }

    protected TckConfig config() {
        return TckContext.config();
    }

    protected Timing timing() {
        return new Timing(provider().timing(), config().timingMultiplier());
    }

    protected GuestLayout layout() {
        return GuestLayout.forProvider(provider());
    }

    @BeforeMethod(alwaysRun = true)
    public void requireProviderSupportsSuite() {
        HypervisorProvider p = provider();
        Availability a = p.availability();
        if (!a.available()) {
            throw new NotApplicableException("provider '" + p.id() + "' is unavailable here: " + a.reason());
        }
        if (!p.architectures().contains(architecture())) {
            throw new NotApplicableException("provider '" + p.id() + "' does not support " + architecture());
        }
    }

    /** NOT APPLICABLE unless the provider declared {@code capability}. */
    protected void require(Capability capability) {
        if (!provider().capabilities().contains(capability)) {
            throw new NotApplicableException("provider '" + provider().id() + "' does not declare capability " + capability);
        }
    }

    /** Opens a VM of this suite's architecture on the standard layout; closed after the test. */
    protected Vm openVm(int vcpus) {
        if (vcpus > 1) {
            require(Capability.MULTI_VCPU);
        }
        return openVm(layout().spec(architecture(), vcpus));
    }

    /** Opens a VM; closed after the test. */
    protected Vm openVm(VmSpec spec) {
        if (!spec.stealTimeOffered()) {
            require(Capability.WITHHOLD_STEAL_TIME);
        }
        Vm vm = Evidence.step("open VM: " + spec.vcpus() + " vCPU(s), RAM " + spec.ram()
                + (spec.stealTimeOffered() ? "" : ", steal time NOT offered"), () -> provider().open(spec));
        open.add(vm);
        return vm;
    }

    @AfterMethod(alwaysRun = true)
    public void closeVms() {
        RuntimeException first = null;
        for (Vm vm : open) {
            try {
                vm.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }
}
