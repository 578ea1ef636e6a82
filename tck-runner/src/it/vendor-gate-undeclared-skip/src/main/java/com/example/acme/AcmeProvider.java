package com.example.acme;

import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.SkipException;

/**
 * The ACME hypervisor that declares MULTI_VCPU but, asked for a VM with several vCPUs, throws its
 * own TestNG {@link SkipException} instead of building it. A skip is not a declared NOT APPLICABLE:
 * the TCK must fail its build (X86-PER-VCPU, ARM-PER-VCPU...), under plain surefire too.
 */
public class AcmeProvider extends ReferenceProvider {

    public AcmeProvider() {
        super("acme-skipping", "ACME hypervisor that skips multi-vCPU VMs instead of declaring it", new dev.stealtime.tck.runner.reference.ReferenceParts());
    }

    @Override
    public Vm open(VmSpec spec) {
        if (spec.vcpus() > 1) {
            throw new SkipException("ACME: multi-vCPU VMs are not ready yet");
        }
        return super.open(spec);
    }

    @Override
    public String version() {
        return "1.0.0-skipping";
    }
}
