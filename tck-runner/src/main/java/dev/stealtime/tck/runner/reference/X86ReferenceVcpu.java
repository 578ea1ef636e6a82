package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.X86Vcpu;

/**
 * An x86 vCPU of the reference hypervisor. Only {@code MSR_KVM_STEAL_TIME} exists; any other MSR
 * faults. CPUID 0x40000000 carries the KVM signature, 0x40000001 EAX bit 5 the steal-time feature.
 */
public class X86ReferenceVcpu extends VirtualVcpu implements X86Vcpu {

    public static final int KVM_CPUID_SIGNATURE = 0x40000000;
    public static final int KVM_CPUID_FEATURES = 0x40000001;
    public static final int KVM_FEATURE_STEAL_TIME = 5;

    private final StealTimeMsr msr;
    private final boolean offered;

    public X86ReferenceVcpu(int index, StealTimeMsr msr, boolean offered) {
        super(index);
        this.msr = msr;
        this.offered = offered;
    }

    @Override
    protected void onScheduledIn(long runDelayNanos) {
        msr.update(runDelayNanos);
    }

    @Override
    protected void onPreempted() {
        msr.markPreempted();
    }

    @Override
    public MsrResult guestWrmsr(int index, long value) {
        enterGuest();
        MsrResult r = index == MSR_KVM_STEAL_TIME ? msr.write(value) : MsrResult.gp();
        if (!r.faulted() && msr.enabled()) {
            enterGuest();                  // KVM_REQ_STEAL_UPDATE: updated before the guest resumes
        }
        return r;
    }

    @Override
    public MsrResult guestRdmsr(int index) {
        enterGuest();
        return index == MSR_KVM_STEAL_TIME ? msr.read() : MsrResult.gp();
    }

    @Override
    public boolean hostSetMsr(int index, long value) {
        return index == MSR_KVM_STEAL_TIME && !msr.write(value).faulted();
    }

    @Override
    public long hostGetMsr(int index) {
        MsrResult r = index == MSR_KVM_STEAL_TIME ? msr.read() : MsrResult.gp();
        if (r.faulted()) {
            throw new IllegalStateException(String.format("MSR 0x%x cannot be read", index));
        }
        return r.value();
    }

    @Override
    public CpuidResult cpuid(int leaf) {
        enterGuest();
        return switch (leaf) {
            // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX; EAX = highest KVM leaf
            case KVM_CPUID_SIGNATURE -> new CpuidResult(KVM_CPUID_FEATURES, 0x4b4d564b, 0x564b4d56, 0x4d);
            case KVM_CPUID_FEATURES -> new CpuidResult(offered ? 1 << KVM_FEATURE_STEAL_TIME : 0, 0, 0, 0);
            default -> new CpuidResult(0, 0, 0, 0);
        };
    }
}
