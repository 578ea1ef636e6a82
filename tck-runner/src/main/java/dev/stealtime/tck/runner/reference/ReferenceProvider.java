package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.util.EnumSet;
import java.util.Set;

/**
 * The reference hypervisor: a faithful model of both steal-time interfaces, including Linux KVM's
 * behaviour where the documents are silent, in virtual time (timing is exact). The embedded
 * default provider, and the executable form of the rule catalogue.
 */
public class ReferenceProvider implements HypervisorProvider {

    public static final String ID = "reference";

    private final String id;
    private final String description;
    private final ReferenceParts parts;

    /** The reference itself (used by ServiceLoader). */
    public ReferenceProvider() {
        this(ID, "Reference model of MSR_KVM_STEAL_TIME and arm64 PV time (virtual time)", new ReferenceParts());
    }

    /** A reference built from other parts: how the self-tests make faulty hypervisors. */
    public ReferenceProvider(String id, String description, ReferenceParts parts) {
        this.id = id;
        this.description = description;
        this.parts = parts;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public String version() {
        String v = ReferenceProvider.class.getPackage().getImplementationVersion();
        return v == null ? "development" : v;
    }

    @Override
    public Set<Architecture> architectures() {
        return EnumSet.allOf(Architecture.class);
    }

    @Override
    public Set<Capability> capabilities() {
        return EnumSet.allOf(Capability.class);
    }

    @Override
    public TimingPrecision timing() {
        return TimingPrecision.exact();
    }

    @Override
    public Availability availability() {
        return Availability.yes();
    }

    @Override
    public Vm open(VmSpec spec) {
        return new ReferenceVm(spec, parts);
    }
}
