package dev.stealtime.tck.arm64;

import dev.stealtime.tck.support.Errno;

/**
 * One {@code KVM_HAS/SET/GET_DEVICE_ATTR} call on a vCPU and what it returned, kept together so a
 * failure can say which call produced the result:
 * "SET_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA, 0x10001) on vCPU 0 returned -EEXIST".
 *
 * @param kind   which ioctl
 * @param vcpu   vCPU index
 * @param group  attribute group
 * @param attr   attribute id
 * @param value  the value passed (SET only)
 * @param result 0 or a negative errno
 * @param read   the value read (GET with result 0 only)
 */
public record AttrCall(Kind kind, int vcpu, int group, long attr, long value, int result, long read) {

    public enum Kind {
        HAS("HAS_DEVICE_ATTR"), SET("SET_DEVICE_ATTR"), GET("GET_DEVICE_ATTR");

        final String ioctl;

        Kind(String ioctl) {
            this.ioctl = ioctl;
        }
    }

    /** "SET_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA, 0x10001) on vCPU 0" */
    public String call() {
        String args = PvTime.groupName(group) + ", " + PvTime.attrName(attr)
                + (kind == Kind.SET ? ", " + PvTime.hex(value) : "");
        return kind.ioctl + "(" + args + ") on vCPU " + vcpu;
    }

    /** "-EEXIST", "0", or for a successful GET "0 with value 0x10000". */
    public String outcome() {
        return Errno.describe(result) + (kind == Kind.GET && result == 0 ? " with value " + PvTime.hex(read) : "");
    }

    public boolean succeeded() {
        return result == 0;
    }

    /** One line for an errno table. */
    @Override
    public String toString() {
        return call() + " → " + outcome();
    }
}
