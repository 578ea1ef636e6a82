package dev.stealtime.tck.x86;

/** The MSR written through the path a data-driven case names: the guest's WRMSR or the VMM's set. */
public enum Path {
    GUEST("guest WRMSR"), HOST("host KVM_SET_MSRS");

    final String label;

    Path(String label) {
        this.label = label;
    }

    /** True when the hypervisor accepted the value. */
    boolean write(StealTimeVcpu cpu, long value) {
        return this == GUEST ? !cpu.guestWrmsr(value).faulted() : cpu.hostSetMsr(value);
    }

    /** The MSR read back through the same path. */
    long read(StealTimeVcpu cpu) {
        return this == HOST ? cpu.hostGetMsr() : cpu.rdmsr();
    }

    @Override
    public String toString() {
        return label;
    }
}
