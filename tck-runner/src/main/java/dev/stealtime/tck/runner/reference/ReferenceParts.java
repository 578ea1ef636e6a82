package dev.stealtime.tck.runner.reference;

/**
 * Builds the pieces of each reference vCPU. The reference uses this class as it is; the TCK's
 * self-tests subclass it to swap in one faulty piece (e.g. a {@link StealTimeMsr} that bumps the
 * version only once) and so build a hypervisor with exactly one defect.
 */
public class ReferenceParts {

    public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
        return new StealTimeMsr(ram, offered);
    }

    public X86ReferenceVcpu x86Vcpu(int index, StealTimeMsr msr, boolean offered) {
        return new X86ReferenceVcpu(index, msr, offered);
    }

    public StolenTime stolenTime(GuestRam ram) {
        return new StolenTime(ram);
    }

    public PvTimeAttribute pvTimeAttribute(GuestRam ram, boolean offered, StolenTime stolenTime) {
        return new PvTimeAttribute(ram, offered, stolenTime);
    }

    public PvTimeHypercalls pvTimeHypercalls(boolean offered, StolenTime stolenTime) {
        return new PvTimeHypercalls(offered, stolenTime);
    }

    public Arm64ReferenceVcpu arm64Vcpu(int index, StolenTime stolenTime, PvTimeAttribute attribute,
                                        PvTimeHypercalls hypercalls) {
        return new Arm64ReferenceVcpu(index, stolenTime, attribute, hypercalls);
    }

    /** Guest RAM; a variant may hand out RAM whose writes stray. */
    public GuestRam guestRam(java.util.List<dev.stealtime.tck.spi.MemoryRegion> regions) {
        return new GuestRam(regions);
    }
}
