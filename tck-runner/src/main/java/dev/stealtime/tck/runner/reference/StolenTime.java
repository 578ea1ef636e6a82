package dev.stealtime.tck.runner.reference;

/**
 * The stolen-time structure of one arm64 vCPU (DEN0057A, Documentation/virt/kvm/arm/pvtime.rst):
 *
 * <pre>
 *   | Field       | Byte Length | Byte Offset |
 *   | Revision    |      4      |      0      |  must be 0 for version 1.0
 *   | Attributes  |      4      |      4      |  must be 0
 *   | Stolen time |      8      |      8      |  unsigned nanoseconds, little-endian
 *   (64 bytes reserved in all)
 * </pre>
 *
 * There is no sequence counter: the 64-bit stolen time is stored with one single-copy-atomic store.
 */
public class StolenTime {

    /** Linux: INVALID_GPA, what GET returns before an IPA is set. */
    public static final long NO_IPA = -1L;
    public static final int REVISION = 0;
    public static final int ATTRIBUTES = 4;
    public static final int STOLEN_TIME = 8;
    public static final int SIZE = 64;

    protected final GuestRam ram;
    /** The IPA set through KVM_ARM_VCPU_PVTIME_IPA (Linux: vcpu->arch.steal.base). */
    protected long base = NO_IPA;
    /** The host's run delay at the last update (Linux: vcpu->arch.steal.last_steal). */
    protected long lastSteal;

    public StolenTime(GuestRam ram) {
        this.ram = ram;
    }

    public long base() {
        return base;
    }

    public boolean configured() {
        return base != NO_IPA;
    }

    public void setBase(long ipa) {
        this.base = ipa;
    }

    /**
     * PV_TIME_ST: the structure is zeroed and counting restarts from now; returns the IPA.
     */
    public long init(long runDelayNanos) {
        lastSteal = runDelayNanos;
        ram.zero(base, SIZE);
        return base;
    }

    /**
     * Before the vCPU is scheduled: stolen_time += run_delay - last_steal, read back from guest
     * memory and written with one 64-bit little-endian store.
     */
    public void update(long runDelayNanos) {
        if (!configured()) {
            return;
        }
        long stolen = readStolenTime() + stealDelta(runDelayNanos - lastSteal);
        lastSteal = runDelayNanos;
        writeStolenTime(stolen);
    }

    /** Nanoseconds, one for one. */
    protected long stealDelta(long runDelayDeltaNanos) {
        return runDelayDeltaNanos;
    }

    /** The stolen time found in guest memory: the accumulator, read as one 64-bit little-endian load. */
    protected long readStolenTime() {
        return ram.getLong(base + STOLEN_TIME);
    }

    /** One single-copy-atomic 64-bit little-endian store. */
    protected void writeStolenTime(long stolen) {
        ram.putLong(base + STOLEN_TIME, stolen);
    }
}
