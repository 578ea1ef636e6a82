package dev.stealtime.tck.arm64;

import dev.stealtime.tck.support.Snapshot;

/** Entry points of the arm64 suite's assertions. */
public final class Arm64Assertions {

    private Arm64Assertions() {
    }

    /** The 64-byte stolen-time structure: {@code assertThatStolenTime(s).hasRevision(0).hasAttributes(0)}. */
    public static StolenTimeAssert assertThatStolenTime(Snapshot snapshot) {
        return new StolenTimeAssert(snapshot);
    }

    /** A device-attribute call: {@code assertThatAttr(vcpu.set(ipa)).isErrno(Errno.EEXIST)}. */
    public static AttrCallAssert assertThatAttr(AttrCall call) {
        return new AttrCallAssert(call);
    }

    /** A guest SMCCC call: {@code assertThatCall(vcpu.stolenTimeIpa()).returnsIpa(ipa)}. */
    public static HypercallAssert assertThatCall(Hypercall call) {
        return new HypercallAssert(call);
    }
}
