package dev.stealtime.tck.arm64;

import org.assertj.core.api.AbstractAssert;

/**
 * Assertions on an SMCCC call's x0: "PV_TIME_ST() on vCPU 1 returned 0x10000, expected 0x10040".
 */
public final class HypercallAssert extends AbstractAssert<HypercallAssert, Hypercall> {

    HypercallAssert(Hypercall actual) {
        super(actual, HypercallAssert.class);
    }

    private HypercallAssert expect(long x0) {
        isNotNull();
        if (actual.x0() != x0) {
            throw failure("%s returned %s, expected %s", actual.call(), actual.outcome(), PvTime.resultName(x0));
        }
        return this;
    }

    public HypercallAssert returnsSuccess() {
        return expect(PvTime.SUCCESS);
    }

    public HypercallAssert returnsNotSupported() {
        return expect(PvTime.NOT_SUPPORTED);
    }

    /**
     * A 32-bit result in w0 (an SMC32 call such as SMCCC_VERSION: the upper half of x0 is not part
     * of it) that is non-negative and at least {@code min}.
     */
    public HypercallAssert returnsAtLeast(int min, String what) {
        isNotNull();
        int w0 = (int) actual.x0();
        if (w0 < min) {
            throw failure("%s returned w0 = 0x%x (%d), expected at least 0x%x: %s", actual.call(), w0, w0, min, what);
        }
        return this;
    }

    /** PV_TIME_ST returned exactly this IPA (all 64 bits). */
    public HypercallAssert returnsIpa(long ipa) {
        return expect(ipa);
    }
}
