package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.X86Vcpu;

import java.util.List;

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

    /**
     * What a VMM carries across its save and restore for one vCPU, through the VMM's own path: x86,
     * {@code MSR_KVM_STEAL_TIME} (host MSR get on {@code saved}, set on {@code restored}); arm64,
     * the PV-time IPA when one was set (GET, then SET_DEVICE_ATTR). A variant may forget it.
     */
    public void restore(Vcpu saved, Vcpu restored) {
        if (saved instanceof X86Vcpu from) {
            int msr = X86Vcpu.MSR_KVM_STEAL_TIME;
            ((X86Vcpu) restored).hostSetMsr(msr, from.hostGetMsr(msr));
        } else {
            Arm64Vcpu from = (Arm64Vcpu) saved;
            Arm64Vcpu.AttrResult ipa = from.getDeviceAttr(Arm64Vcpu.PVTIME_CTRL,
                    Arm64Vcpu.PVTIME_IPA);
            if (ipa.errno() == 0) {
                ((Arm64Vcpu) restored).setDeviceAttr(Arm64Vcpu.PVTIME_CTRL,
                        Arm64Vcpu.PVTIME_IPA, ipa.value());
            }
        }
    }

    /**
     * A vCPU the VMM adds to a running VM: {@code asBooted}, built as the boot vCPUs are; a variant
     * may set up vCPU {@code index} on {@code ram} otherwise.
     */
    public Vcpu hotplugged(int index, GuestRam ram, Vcpu asBooted) {
        return asBooted;
    }

    /** What a VMM carries for one vCPU when it migrates a VM live: as for a save and restore ({@link #restore}). */
    public void migrate(Vcpu source, Vcpu destination) {
        restore(source, destination);
    }

    /** Where the reference, as a whole VMM, places arm64 structures ({@link dev.stealtime.tck.spi.VmSpec#vmmPlaced()}). */
    public PvTimeRegion pvTimeRegion(dev.stealtime.tck.spi.VmSpec spec) {
        return new PvTimeRegion(spec);
    }

    /** Guest RAM; a variant may hand out RAM whose writes stray. */
    public GuestRam guestRam(List<MemoryRegion> regions) {
        return new GuestRam(regions);
    }
}
