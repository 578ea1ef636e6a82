package dev.stealtime.tck.x86;

import dev.stealtime.tck.support.Snapshot;
import dev.stealtime.tck.support.assertions.SnapshotAssert;

import static dev.stealtime.tck.x86.KvmStealTime.FLAGS;
import static dev.stealtime.tck.x86.KvmStealTime.PAD_FROM;
import static dev.stealtime.tck.x86.KvmStealTime.PREEMPTED;
import static dev.stealtime.tck.x86.KvmStealTime.SIZE;
import static dev.stealtime.tck.x86.KvmStealTime.STEAL;
import static dev.stealtime.tck.x86.KvmStealTime.VERSION;

/**
 * AssertJ assertions on one {@code struct kvm_steal_time} snapshot. Every failure names the vCPU,
 * the structure's address and the moment ("after preempt+run #3"), carries the hex dump (before and
 * after when an earlier snapshot is known) and attaches it to the report:
 * <pre>
 *   assertThatRecord(after).comparedTo(before).hasEvenVersion().hasFlags(0).hasVersionAbove(before);
 * </pre>
 */
public final class StealTimeRecordAssert extends SnapshotAssert<StealTimeRecordAssert> {

    private StealTimeRecordAssert(Snapshot actual) {
        super(actual, StealTimeRecordAssert.class);
    }

    public static StealTimeRecordAssert assertThatRecord(Snapshot record) {
        return new StealTimeRecordAssert(record);
    }

    public static long steal(Snapshot s) {
        return s.u64(STEAL);
    }

    public static int version(Snapshot s) {
        return s.u32(VERSION);
    }

    /** {@code version} is even: no update is in progress. */
    public StealTimeRecordAssert hasEvenVersion() {
        isNotNull();
        int v = version(actual);
        if ((v & 1) != 0) {
            failWithDump("version %s is odd after the update completed", KvmStealTime.version(v));
        }
        return this;
    }

    /** {@code version} is strictly larger than {@code earlier}'s (modulo 2^32, as a sequence counter). */
    public StealTimeRecordAssert hasVersionAbove(Snapshot earlier) {
        isNotNull();
        comparedTo(earlier);
        int was = version(earlier);
        int now = version(actual);
        if (now - was <= 0) {
            failWithDump("version did not advance: %s %s, %s %s", KvmStealTime.version(was), earlier.when(),
                    KvmStealTime.version(now), actual.when());
        }
        return this;
    }

    /** {@code version} did not go back from {@code earlier}'s (modulo 2^32). */
    public StealTimeRecordAssert hasVersionNotBelow(Snapshot earlier) {
        isNotNull();
        comparedTo(earlier);
        int was = version(earlier);
        int now = version(actual);
        if (now - was < 0) {
            failWithDump("version went back from %s %s to %s %s", KvmStealTime.version(was), earlier.when(),
                    KvmStealTime.version(now), actual.when());
        }
        return this;
    }

    public StealTimeRecordAssert hasFlags(int expected) {
        isNotNull();
        int f = actual.u32(FLAGS);
        if (f != expected) {
            failWithDump("flags is 0x%x, expected 0x%x", f, expected);
        }
        return this;
    }

    public StealTimeRecordAssert hasPreempted(int expected) {
        isNotNull();
        int p = actual.u8(PREEMPTED);
        if (p != expected) {
            failWithDump("preempted (byte 16) is %d %s, expected %d", p, actual.when(), expected);
        }
        return this;
    }

    /** steal grew from {@code earlier}'s by at least {@code min} and at most {@code max} nanoseconds. */
    public StealTimeRecordAssert hasStealDeltaBetween(Snapshot earlier, long min, long max, String why) {
        isNotNull();
        comparedTo(earlier);
        long delta = steal(actual) - steal(earlier);
        if (delta < min || delta > max) {
            failWithDump("steal grew by %,d ns (from %,d to %,d), expected %s to %s ns: %s", delta,
                    steal(earlier), steal(actual), bound(min), bound(max), why);
        }
        return this;
    }

    /** steal is not below {@code earlier}'s (unsigned). */
    public StealTimeRecordAssert hasStealNotBelow(Snapshot earlier) {
        isNotNull();
        comparedTo(earlier);
        if (Long.compareUnsigned(steal(actual), steal(earlier)) < 0) {
            failWithDump("steal went backwards from %s (%s) to %s (%s)", Long.toUnsignedString(steal(earlier)),
                    earlier.when(), Long.toUnsignedString(steal(actual)), actual.when());
        }
        return this;
    }

    /** steal is strictly above {@code earlier}'s (unsigned). */
    public StealTimeRecordAssert hasStealAbove(Snapshot earlier, String why) {
        isNotNull();
        comparedTo(earlier);
        if (Long.compareUnsigned(steal(actual), steal(earlier)) <= 0) {
            failWithDump("steal did not grow (%s %s, %s %s): %s", Long.toUnsignedString(steal(earlier)), earlier.when(),
                    Long.toUnsignedString(steal(actual)), actual.when(), why);
        }
        return this;
    }

    /** The steal or the version changed since {@code earlier}: an update happened (not just {@code preempted}). */
    public StealTimeRecordAssert wasUpdatedSince(Snapshot earlier, String why) {
        isNotNull();
        comparedTo(earlier);
        if (steal(actual) == steal(earlier) && version(actual) == version(earlier)) {
            failWithDump("neither steal nor version changed since %s: %s", earlier.when(), why);
        }
        return this;
    }

    /** Every byte is as in {@code earlier}: the hypervisor did not write the structure. */
    public StealTimeRecordAssert wasNotWrittenSince(Snapshot earlier, String why) {
        isNotNull();
        comparedTo(earlier);
        byte[] a = actual.bytes();
        byte[] b = earlier.bytes();
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (a[i] != b[i]) {
                failWithDump("the structure was written at offset %d (0x%02x -> 0x%02x) since %s: %s", i,
                        b[i] & 0xff, a[i] & 0xff, earlier.when(), why);
            }
        }
        return this;
    }

    /** Padding bytes 20..63 hold what they held in {@code earlier}. */
    public StealTimeRecordAssert hasPadUnchangedFrom(Snapshot earlier) {
        isNotNull();
        comparedTo(earlier);
        for (int i = PAD_FROM; i < SIZE; i++) {
            if (actual.bytes()[i] != earlier.bytes()[i]) {
                failWithDump("padding byte %d was written (0x%02x -> 0x%02x)", i, earlier.bytes()[i] & 0xff,
                        actual.bytes()[i] & 0xff);
            }
        }
        return this;
    }

    private static String bound(long v) {
        return v == Long.MAX_VALUE ? "∞" : v == Long.MIN_VALUE ? "-∞" : String.format("%,d", v);
    }
}
