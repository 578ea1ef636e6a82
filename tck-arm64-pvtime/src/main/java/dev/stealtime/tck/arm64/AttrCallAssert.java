package dev.stealtime.tck.arm64;

import dev.stealtime.tck.support.Errno;
import org.assertj.core.api.AbstractAssert;

/**
 * Assertions on a device-attribute call. Results are named, never bare numbers, and the message
 * carries the call: "SET_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA, 0x10001) on vCPU 0 returned -EEXIST,
 * expected -EINVAL".
 */
public final class AttrCallAssert extends AbstractAssert<AttrCallAssert, AttrCall> {

    AttrCallAssert(AttrCall actual) {
        super(actual, AttrCallAssert.class);
    }

    private AttrCallAssert expect(boolean ok, String expected) {
        isNotNull();
        if (!ok) {
            throw failure("%s returned %s, expected %s", actual.call(), actual.outcome(), expected);
        }
        return this;
    }

    /** The call returned {@code -errno}. */
    public AttrCallAssert isErrno(Errno errno) {
        return expect(actual.result() == errno.negative(), "-" + errno.name());
    }

    /** The call returned 0. */
    public AttrCallAssert succeeded() {
        return expect(actual.result() == 0, "0");
    }

    /** The call returned an error (any errno). */
    public AttrCallAssert failed() {
        return expect(actual.result() < 0, "an error (the call must not take effect)");
    }

    /** A GET that returned 0 and this value. */
    public AttrCallAssert returnedValue(long value) {
        return expect(actual.result() == 0 && actual.read() == value, "0 with value " + PvTime.hex(value));
    }

    /** A GET that returned the same errno and value as {@code earlier}. */
    public AttrCallAssert returnedSameAs(AttrCall earlier) {
        return expect(actual.result() == earlier.result() && (actual.result() != 0 || actual.read() == earlier.read()),
                earlier.outcome() + " as before (" + earlier.call() + ")");
    }
}
