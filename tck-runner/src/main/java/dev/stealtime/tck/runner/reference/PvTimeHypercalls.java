package dev.stealtime.tck.runner.reference;

/**
 * The guest's SMCCC calls for PV time (Documentation/virt/kvm/arm/pvtime.rst, DEN0057A):
 *
 * <pre>
 *   SMCCC_VERSION       (0x80000000)                   → 0x10001 (SMCCC 1.1: ARCH_FEATURES exists)
 *   SMCCC_ARCH_FEATURES (0x80000001)(PV_TIME_FEATURES) → SUCCESS when PV time is offered
 *   PV_TIME_FEATURES (0xC5000020)(PV_call_id)          → SUCCESS if the PV-time feature is supported
 *   PV_TIME_ST       (0xC5000021)                      → IPA of this vCPU's structure, or NOT_SUPPORTED
 *   Only the SMC64/HVC64 forms exist; anything else is NOT_SUPPORTED.
 * </pre>
 */
public class PvTimeHypercalls {

    public static final int SMCCC_VERSION = 0x80000000;
    public static final long SMCCC_1_1 = 0x10001;
    public static final int SMCCC_ARCH_FEATURES = 0x80000001;
    public static final int PV_TIME_FEATURES = 0xC5000020;
    public static final int PV_TIME_ST = 0xC5000021;
    public static final long SUCCESS = 0;
    public static final long NOT_SUPPORTED = -1;

    protected final boolean offered;
    protected final StolenTime stolenTime;

    public PvTimeHypercalls(boolean offered, StolenTime stolenTime) {
        this.offered = offered;
        this.stolenTime = stolenTime;
    }

    public long call(int functionId, long[] args, long runDelayNanos) {
        long arg1 = args.length > 0 ? args[0] : 0;
        if (functionId == SMCCC_VERSION) {
            return smcccVersion();
        }
        if (functionId == SMCCC_ARCH_FEATURES) {
            return archFeatures((int) arg1);
        }
        if (!offered) {
            return NOT_SUPPORTED;
        }
        if (functionId == PV_TIME_FEATURES) {
            return features((int) arg1);
        }
        if (functionId == PV_TIME_ST) {
            return stolenTimeAddress(runDelayNanos);
        }
        return NOT_SUPPORTED;
    }

    protected long smcccVersion() {
        return SMCCC_1_1;
    }

    protected long archFeatures(int queried) {
        return offered && queried == PV_TIME_FEATURES ? SUCCESS : NOT_SUPPORTED;
    }

    /** PV_TIME_FEATURES and PV_TIME_ST are supported once this vCPU has a structure. */
    protected long features(int queried) {
        boolean known = queried == PV_TIME_FEATURES || queried == PV_TIME_ST;
        return known && stolenTime.configured() ? SUCCESS : NOT_SUPPORTED;
    }

    /** PV_TIME_ST returns the calling vCPU's IPA, after zeroing the structure and restarting the count. */
    protected long stolenTimeAddress(long runDelayNanos) {
        if (!stolenTime.configured()) {
            return NOT_SUPPORTED;
        }
        return stolenTime.init(runDelayNanos);
    }
}
