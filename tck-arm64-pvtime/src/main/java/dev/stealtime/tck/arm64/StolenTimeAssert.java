package dev.stealtime.tck.arm64;

import dev.stealtime.tck.support.Snapshot;
import dev.stealtime.tck.support.assertions.SnapshotAssert;

import static dev.stealtime.tck.arm64.PvTime.ATTRIBUTES;
import static dev.stealtime.tck.arm64.PvTime.REVISION;
import static dev.stealtime.tck.arm64.PvTime.STOLEN_TIME;

/**
 * Assertions on the 64-byte stolen-time structure as the guest reads it (little-endian):
 * <pre>
 *   u32 revision @0 (= 0)   u32 attributes @4 (= 0)   u64 stolen_time @8 (ns)   48 bytes reserved
 * </pre>
 * Failures say what was expected, what was read and where ("vCPU 0, structure at 0x10000"), with
 * the hex dump of the structure (before and after when {@link #comparedTo} was given).
 */
public final class StolenTimeAssert extends SnapshotAssert<StolenTimeAssert> {

    StolenTimeAssert(Snapshot actual) {
        super(actual, StolenTimeAssert.class);
    }

    private long stolen() {
        return actual.u64(STOLEN_TIME);
    }

    private long earlierStolen() {
        if (before() == null) {
            throw new IllegalStateException("a change needs comparedTo(earlier snapshot)");
        }
        return before().u64(STOLEN_TIME);
    }

    public StolenTimeAssert hasRevision(int expected) {
        isNotNull();
        if (actual.u32(REVISION) != expected) {
            return failWithDump("expected revision (u32 @0) %d, read %d (0x%08x)", expected, actual.u32(REVISION), actual.u32(REVISION));
        }
        return myself;
    }

    public StolenTimeAssert hasAttributes(int expected) {
        isNotNull();
        if (actual.u32(ATTRIBUTES) != expected) {
            return failWithDump("expected attributes (u32 @4) %d, read %d (0x%08x)", expected, actual.u32(ATTRIBUTES), actual.u32(ATTRIBUTES));
        }
        return myself;
    }

    public StolenTimeAssert hasStolenTimeAtMost(long max) {
        isNotNull();
        if (Long.compareUnsigned(stolen(), max) > 0) {
            return failWithDump("expected stolen_time (u64 @8) at most %,d ns, read %s ns", max, Long.toUnsignedString(stolen()));
        }
        return myself;
    }

    /** Every byte in {@code [from, to)} is zero; {@code what} names the range ("reserved bytes 16..63"). */
    public StolenTimeAssert hasZeroBytes(int from, int to, String what) {
        isNotNull();
        for (int i = from; i < to; i++) {
            if (actual.u8(i) != 0) {
                return failWithDump("expected %s to read zero, but offset %d is 0x%02x", what, i, actual.u8(i));
            }
        }
        return myself;
    }

    /**
     * stolen_time grew by at least {@code min} and at most {@code max} ns since the snapshot given
     * to {@link #comparedTo}. {@code what} explains the bounds ("the induced 3 ms" ...).
     */
    public StolenTimeAssert stolenTimeGrewBetween(long min, long max, String what) {
        isNotNull();
        long delta = stolen() - earlierStolen();
        if (delta < min || delta > max) {
            String hint = delta > 0 && delta * 1000 >= min && delta * 1000 <= max + max / 10
                    ? " — looks like microseconds, not nanoseconds" : "";
            return failWithDump("expected stolen_time to grow by %,d..%,d ns (%s), it grew by %,d ns (%,d → %,d)%s",
                    min, max, what, delta, earlierStolen(), stolen(), hint);
        }
        return myself;
    }

    /** stolen_time grew by at most {@code max} ns (and may not have grown at all). */
    public StolenTimeAssert stolenTimeGrewAtMost(long max, String what) {
        isNotNull();
        long delta = stolen() - earlierStolen();
        if (delta > max) {
            return failWithDump("expected stolen_time to grow by at most %,d ns (%s), it grew by %,d ns (%,d → %,d)",
                    max, what, delta, earlierStolen(), stolen());
        }
        return myself;
    }

    /** stolen_time grew (by more than zero). */
    public StolenTimeAssert stolenTimeGrew(String what) {
        isNotNull();
        if (Long.compareUnsigned(stolen(), earlierStolen()) <= 0) {
            return failWithDump("expected stolen_time to grow (%s), it went from %,d to %,d ns", what, earlierStolen(), stolen());
        }
        return myself;
    }

    /** stolen_time is not lower than in the earlier snapshot (compared as unsigned 64-bit nanoseconds). */
    public StolenTimeAssert stolenTimeDidNotDecrease() {
        isNotNull();
        if (Long.compareUnsigned(stolen(), earlierStolen()) < 0) {
            return failWithDump("stolen_time decreased from %s to %s ns", Long.toUnsignedString(earlierStolen()), Long.toUnsignedString(stolen()));
        }
        return myself;
    }

    /** stolen_time is lower than {@code bound} (e.g. lower than before a restart). */
    public StolenTimeAssert hasStolenTimeBelow(long bound, String what) {
        isNotNull();
        if (Long.compareUnsigned(stolen(), bound) >= 0) {
            return failWithDump("expected stolen_time below %,d ns (%s), read %s ns", bound, what, Long.toUnsignedString(stolen()));
        }
        return myself;
    }

    /**
     * The bytes of stolen_time are in little-endian order: for a value well below 2^40 ns (18
     * minutes) the most significant bytes, at offsets 13..15, are zero and the value sits in the
     * low-order bytes starting at offset 8. A big-endian or word-swapped store puts it at the top.
     */
    public StolenTimeAssert hasStolenTimeInLowOrderBytes() {
        isNotNull();
        boolean highZero = actual.u8(13) == 0 && actual.u8(14) == 0 && actual.u8(15) == 0;
        boolean lowSet = false;
        for (int i = 8; i <= 12; i++) {
            lowSet |= actual.u8(i) != 0;
        }
        if (!highZero || !lowSet) {
            return failWithDump("expected stolen_time stored little-endian: its least significant byte at offset 8 and, for a "
                    + "value below 2^40 ns, zero in offsets 13..15; read as little-endian it is %s ns, read as big-endian %s ns",
                    Long.toUnsignedString(stolen()), Long.toUnsignedString(Long.reverseBytes(stolen())));
        }
        return myself;
    }
}
