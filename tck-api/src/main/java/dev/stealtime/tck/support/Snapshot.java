package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A copy of a steal-time structure (or any guest bytes) at one moment, with where it came from:
 * which vCPU, which guest-physical address, and when ("after the update completed").
 */
public record Snapshot(String when, int vcpu, long gpa, byte[] bytes) {

    public static Snapshot take(GuestMemory memory, String when, int vcpu, long gpa, int length) {
        return new Snapshot(when, vcpu, gpa, memory.read(gpa, length));
    }

    private ByteBuffer le() {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    public long u64(int offset) {
        return le().getLong(offset);
    }

    public int u32(int offset) {
        return le().getInt(offset);
    }

    public int u8(int offset) {
        return bytes[offset] & 0xff;
    }

    /** True when every byte in {@code [from, to)} is zero. */
    public boolean zero(int from, int to) {
        for (int i = from; i < to; i++) {
            if (bytes[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Bytes {@code [from, from + n)} in hex, in memory order: "c0 c6 2d 00". */
    public String hexBytes(int from, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = from; i < from + n; i++) {
            sb.append(i == from ? "" : " ").append(String.format("%02x", u8(i)));
        }
        return sb.toString();
    }

    /** "vCPU 0, structure at 0x10000" */
    public String where() {
        return String.format("vCPU %d, structure at 0x%x", vcpu, gpa);
    }

    public String hex() {
        return HexDump.of(gpa, bytes);
    }
}
