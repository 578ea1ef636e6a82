package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.IHookCallBack;
import org.testng.ITestResult;
import org.testng.annotations.AfterMethod;

import java.util.ArrayList;
import java.util.List;

/**
 * Base of every suite class: finds the provider, turns a missing architecture, capability or an
 * unavailable provider into NOT APPLICABLE (with the reason), turns any other skip into a failure
 * ({@link UndeclaredSkipIsFailure}, also under a vendor's plain surefire), and closes every VM a test
 * opened.
 *
 * <p>The provider is checked inside each test's own invocation ({@link #run}), not in a
 * configuration method: a provider that cannot be found or throws while answering fails every test
 * as an ordinary test failure, in every runner (TestNG counts a failed {@code @BeforeMethod} as a
 * skip of the tests after it, which some runners report as passing).
 */
public abstract class TckTest extends UndeclaredSkipIsFailure {

    /** How often the hook looks at the test thread's current provider call. */
    private static final long WATCH_MILLIS = 20;

    /**
     * Runs each test method on a thread of its own and watches its provider calls
     * ({@link ProviderGuard.Watch}): a call that overruns its limit fails the test with
     * "provider call X did not return within T" and the thread is left behind, so the run goes on
     * with the next test (and a fresh VM). Under {@code tck run} and a vendor's surefire build alike.
     * A skip the test ended with that is not a declared NOT APPLICABLE then fails it
     * ({@link UndeclaredSkipIsFailure}). Before that, on TestNG's thread, the provider must be available
     * and support this suite's architecture ({@link #requireProviderSupportsSuite}).
     */
    @Override
    public void run(IHookCallBack callBack, ITestResult testResult) {
        requireProviderSupportsSuite();
        ProviderGuard.Watch watch = new ProviderGuard.Watch();
        Thread test = new Thread(() -> {
            ProviderGuard.Watch.watchCurrentThread(watch);
            callBack.runTestMethod(testResult);
        }, "tck-test " + testResult.getMethod().getMethodName());
        test.setDaemon(true);
        test.start();
        try {
            while (true) {
                test.join(WATCH_MILLIS);
                if (!test.isAlive()) {
                    // TestNG reads the outcome the callback recorded
                    failIfUndeclaredSkip(testResult.getThrowable(), "skipped");
                    return;
                }
                ProviderTimeoutException overrun = watch.overrun(test);
                if (overrun != null) {
                    throw overrun;
                }
            }
        } catch (InterruptedException e) {
            test.interrupt();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the test ran", e);
        }
    }

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
        return new Timing(provider().timing(architecture()), config().timingMultiplier());
    }

    protected GuestLayout layout() {
        return GuestLayout.forProvider(provider(), architecture());
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
        if (!provider().capabilities(architecture()).contains(capability)) {
            throw new NotApplicableException("provider '" + provider().id() + "' does not declare capability " + capability
                    + (provider().capabilities().contains(capability) ? " for " + architecture() : ""));
        }
    }

    /** Whether the provider declared {@code capability} for this suite's architecture (for tests that adapt, not require). */
    protected boolean declares(Capability capability) {
        return provider().capabilities(architecture()).contains(capability);
    }

    /**
     * How many vCPUs to open so that the last one is quiet: the vCPU a race preempts and whose
     * structure its readers read, and the one whose {@code preempted} byte is read after it ran. The
     * last of two where the provider has MULTI_VCPU, else the only one. Between the TCK's calls that
     * vCPU must not enter the guest nor run at all. A guest may keep its first vCPU running all the
     * time (the TCK's test guest polls its console there); the others sleep in HLT/WFI between
     * requests. Seen under QEMU on two CPUs, 2026-12-07: (1) the TCK re-seeds the race's accumulator
     * as a guest would (one store), and a hypervisor updating it at each entry reads, adds and writes
     * it back, overwriting a seed stored meanwhile (legal: the guest does not write there), so the x86
     * and arm64 races read "below the floor"; (2) the running vCPU 0's thread, preempted at the moment
     * the TCK read its structure, had {@code preempted} = 1 (legal: it was not running), so
     * X86-PREEMPTED-CLEARED failed in 1 of 3 runs inside the emulated machine.
     */
    protected int quietVcpuCount() {
        return declares(Capability.MULTI_VCPU) ? 2 : 1;
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
        if (spec.onlyStealTime()) {
            require(Capability.STEAL_TIME_ALONE);
        }
        if (spec.vmmPlaced()) {
            require(Capability.GUEST_DEVICE_TREE);
        }
        Vm vm = Evidence.step("open VM: " + spec.vcpus() + " vCPU(s), RAM " + spec.ram()
                + (spec.stealTimeOffered() ? "" : ", steal time NOT offered")
                + (spec.onlyStealTime() ? ", steal time the only paravirtual feature" : "")
                + (spec.vmmPlaced() ? ", structures placed by the VMM, a device tree" : ""), () -> provider().open(spec));
        open.add(vm);
        return vm;
    }

    /**
     * The VMM saves {@code vm} and restores it into a new VM ({@link Vm#saveAndRestore()}); the new
     * VM is closed after the test, {@code vm} at once.
     */
    protected Vm saveAndRestore(Vm vm) {
        return moved(vm, Capability.VMM_SAVE_RESTORE, "the VMM saves the VM and restores it into a new one", vm::saveAndRestore);
    }

    /**
     * The VMM migrates {@code vm} live into a new VM ({@link Vm#liveMigrate()}); the new VM is closed
     * after the test, {@code vm} at once.
     */
    protected Vm liveMigrate(Vm vm) {
        return moved(vm, Capability.VMM_LIVE_MIGRATION, "the VMM migrates the running VM live into a new one", vm::liveMigrate);
    }

    /** The VMM adds a vCPU to the running {@code vm} ({@link Vm#hotplugVcpu()}). */
    protected dev.stealtime.tck.spi.Vcpu hotplugVcpu(Vm vm) {
        require(Capability.VCPU_HOTPLUG);
        return Evidence.step("the VMM adds a vCPU to the running VM, and the guest brings it online", vm::hotplugVcpu);
    }

    private Vm moved(Vm vm, Capability needed, String step, java.util.function.Supplier<Vm> move) {
        require(needed);
        Vm moved = Evidence.step(step, move);
        open.add(moved);
        closeVm(vm);
        return moved;
    }

    /** Closes a VM this test opened before the test ends (a migration's source): it is not closed again. */
    protected void closeVm(Vm vm) {
        if (open.remove(vm)) {
            Evidence.step("close VM", vm::close);
        }
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
