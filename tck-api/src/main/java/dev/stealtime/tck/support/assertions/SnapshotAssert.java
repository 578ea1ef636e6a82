package dev.stealtime.tck.support.assertions;

import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.HexDump;
import dev.stealtime.tck.support.Snapshot;
import org.assertj.core.api.AbstractAssert;

/**
 * Base of the structure assertions of both suites. A failure says what was expected, what was seen
 * and where ("vCPU 0, structure at 0x10000"), and carries the hex dump of the structure (before and
 * after when a "before" snapshot is known), which is also attached to the report.
 */
public abstract class SnapshotAssert<SELF extends SnapshotAssert<SELF>> extends AbstractAssert<SELF, Snapshot> {

    private Snapshot before;

    protected SnapshotAssert(Snapshot actual, Class<?> selfType) {
        super(actual, selfType);
    }

    /** Include this earlier snapshot of the same bytes in failure messages. */
    public SELF comparedTo(Snapshot earlier) {
        this.before = earlier;
        return myself;
    }

    protected Snapshot before() {
        return before;
    }

    /** Fails with "{message} ({where}, {when}): hex dump attached" and the dump in the message. */
    protected SELF failWithDump(String messageFormat, Object... args) {
        isNotNull();
        String message = String.format(messageFormat, args);
        String dump = before == null
                ? actual.when() + ":\n" + actual.hex()
                : "(" + before.when() + " → " + actual.when() + ")\n"
                  + HexDump.beforeAfter(actual.gpa(), before.bytes(), actual.bytes());
        Evidence.text("structure hex dump (" + actual.where() + ")", dump);
        throw failure("%s (%s, %s): hex dump attached%n%s", message, actual.where(), actual.when(), dump);
    }

    /** Bytes outside {@code [from, to)} are equal to those of {@code earlier} (nothing written there). */
    public SELF bytesUnchangedOutside(int from, int to, Snapshot earlier) {
        comparedTo(earlier);
        for (int i = 0; i < actual.bytes().length; i++) {
            if ((i < from || i >= to) && actual.bytes()[i] != earlier.bytes()[i]) {
                return failWithDump("expected bytes outside [%d, %d) to stay as they were, but offset %d changed from 0x%02x to 0x%02x",
                        from, to, i, earlier.bytes()[i] & 0xff, actual.bytes()[i] & 0xff);
            }
        }
        return myself;
    }

    /** Every byte equals the one in {@code earlier}. */
    public SELF isUnchangedFrom(Snapshot earlier) {
        return bytesUnchangedOutside(0, 0, earlier);
    }
}
