package dev.stealtime.tck.runner.reference;

import dev.stealtime.tck.spi.MsrResult;

/**
 * {@code MSR_KVM_STEAL_TIME} of one vCPU, as Documentation/virt/kvm/x86/msr.rst describes it and
 * Linux KVM (arch/x86/kvm/x86.c) implements it.
 *
 * <pre>
 *   data: 64-byte aligned physical address of a memory area which must be in guest RAM,
 *         plus an enable bit in bit 0.
 *   struct kvm_steal_time { u64 steal; u32 version; u32 flags; u8 preempted; u8 u8_pad[3]; u32 pad[11]; }
 * </pre>
 *
 * Every protected method is one sentence of the document; the TCK's self-tests override exactly one
 * of them to build a faulty hypervisor.
 */
public class StealTimeMsr {

    public static final long ENABLE = 1L;
    /** Bits 5:1 are reserved: the address is 64-byte aligned. */
    public static final long RESERVED_BITS = 0x3EL;
    public static final long ADDRESS_BITS = ~0x3FL;

    public static final int STEAL = 0;
    public static final int VERSION = 8;
    public static final int FLAGS = 12;
    public static final int PREEMPTED = 16;
    public static final int SIZE = 64;

    protected final GuestRam ram;
    protected final boolean offered;
    /** The last value written to the MSR. */
    protected long msrValue;
    /** The host's run delay at the last update (Linux: vcpu->arch.st.last_steal; never reset). */
    protected long lastSteal;

    public StealTimeMsr(GuestRam ram, boolean offered) {
        this.ram = ram;
        this.offered = offered;
    }

    // ---- WRMSR / RDMSR ----------------------------------------------------------------------

    /** WRMSR from the guest or the VMM. Returns #GP when rejected. */
    public MsrResult write(long value) {
        if (!offered) {
            return MsrResult.gp();         // KVM_FEATURE_STEAL_TIME withheld and PV CPUID enforced
        }
        if (hasReservedBits(value)) {
            return MsrResult.gp();         // bits 5:1 must be zero
        }
        msrValue = value;                  // the address is not checked against guest RAM here
        return MsrResult.ok();
    }

    /** RDMSR: the last value written. */
    public MsrResult read() {
        return offered ? MsrResult.ok(msrValue) : MsrResult.gp();
    }

    protected boolean hasReservedBits(long value) {
        return (value & RESERVED_BITS) != 0;
    }

    public boolean enabled() {
        return (msrValue & ENABLE) != 0;
    }

    /** Where the structure is: the MSR value with its low six bits cleared. */
    protected long structureAddress() {
        return msrValue & ADDRESS_BITS;
    }

    // ---- the update, on every guest entry after the vCPU was scheduled in -----------------

    /**
     * record_steal_time: {@code if (version & 1) version++; version++ (odd); wmb;
     * steal += run_delay - last_steal; wmb; version++ (even)}. Nothing happens when disabled or
     * when the structure is not in guest RAM.
     */
    public void update(long runDelayNanos) {
        if (!enabled()) {
            return;
        }
        long gpa = structureAddress();
        if (!inGuestRam(gpa)) {
            return;                        // outside guest RAM: silently never written
        }
        clearPreempted(gpa);
        int version = readVersion(gpa);
        version = beginUpdate(gpa, version);
        writeSteal(gpa, readSteal(gpa) + stealDelta(runDelayNanos - lastSteal));
        lastSteal = runDelayNanos;
        endUpdate(gpa, version);
    }

    /** Makes the version odd (fixing up a version the guest left odd first); returns it. */
    protected int beginUpdate(long gpa, int version) {
        if ((version & 1) != 0) {
            version++;                     // first write over guest junk
        }
        version++;
        writeVersion(gpa, version);
        return version;
    }

    /** The steal to add for this much run delay: nanoseconds, one for one. */
    protected long stealDelta(long runDelayDeltaNanos) {
        return runDelayDeltaNanos;
    }

    /** Reads the accumulator back from guest memory (migration-safe: guest memory holds the total). */
    protected long readSteal(long gpa) {
        return ram.getLong(gpa + STEAL);
    }

    /** Stores the accumulated steal with one 64-bit store. */
    protected void writeSteal(long gpa, long steal) {
        ram.putLong(gpa + STEAL, steal);
    }

    /** Makes the version even again: the update is complete. */
    protected void endUpdate(long gpa, int oddVersion) {
        writeVersion(gpa, oddVersion + 1);
    }

    /** The structure lies wholly inside guest RAM (the write never checked that; the update does). */
    protected boolean inGuestRam(long gpa) {
        return ram.contains(gpa, SIZE);
    }

    /** Reads the guest's {@code version}: a little-endian u32. */
    protected int readVersion(long gpa) {
        return ram.getInt(gpa + VERSION);
    }

    /** Stores {@code version}: one little-endian u32 store. */
    protected void writeVersion(long gpa, int version) {
        ram.putInt(gpa + VERSION, version);
    }

    /** The guest is running: {@code preempted} reads 0. */
    protected void clearPreempted(long gpa) {
        ram.putByte(gpa + PREEMPTED, (byte) 0);
    }

    /** The vCPU was taken off the CPU while runnable: {@code preempted} = 1 (KVM_VCPU_PREEMPTED). */
    public void markPreempted() {
        long gpa = structureAddress();
        if (enabled() && inGuestRam(gpa)) {
            ram.putByte(gpa + PREEMPTED, (byte) 1);
        }
    }

    // ---- appended here so the lines above keep the numbers tck-runner/src/pit/surviving-mutants.txt names

    /**
     * Steal time is the guest's only paravirtual feature ({@code VmSpec.onlyStealTime}). The reference
     * has no other, so nothing here depends on it; Linux clears {@code preempted} on another path then
     * (no PV TLB flush), and a self-test's faulty variant forgets it there, as Linux once did (1eff0ada88b4).
     */
    protected boolean onlyStealTime;

    /** Built for a VM with steal time as its only paravirtual feature, or not; returns this. */
    public StealTimeMsr alone(boolean alone) {
        this.onlyStealTime = alone;
        return this;
    }
}
