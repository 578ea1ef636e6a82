package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.IHookCallBack;
import org.testng.IHookable;
import org.testng.ITestResult;
import org.testng.annotations.AfterMethod;

import java.util.ArrayList;
import java.util.List;

/**
 * Base of every suite class: finds the provider, turns a missing architecture, capability or an
 * unavailable provider into NOT APPLICABLE (with the reason), and closes every VM a test opened.
 *
 * <p>The provider is checked inside each test's own invocation ({@link IHookable}), not in a
 * configuration method: a provider that cannot be found or throws while answering fails every test
 * as an ordinary test failure, in every runner (TestNG counts a failed {@code @BeforeMethod} as a
 * skip of the tests after it, which some runners report as passing).
 */
public abstract class TckTest implements IHookable {

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

    @Override
    public void run(IHookCallBack callBack, ITestResult testResult) {
        requireProviderSupportsSuite();
        callBack.runTestMethod(testResult);
    }

    /** NOT APPLICABLE unless the provider is available here and supports this suite's architecture. */
    protected void requireProviderSupportsSuite() {
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
