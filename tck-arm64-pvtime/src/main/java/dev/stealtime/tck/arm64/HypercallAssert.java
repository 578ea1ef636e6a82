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

    /** PV_TIME_ST returned exactly this IPA (all 64 bits). */
    public HypercallAssert returnsIpa(long ipa) {
        return expect(ipa);
    }
}
