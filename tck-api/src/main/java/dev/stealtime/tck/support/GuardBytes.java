package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.GuestMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * Canaries: a recognisable pattern planted in guest RAM around (or instead of) a structure, so that
 * any byte the hypervisor writes outside the place it may write shows up. The pattern never holds a
 * zero byte and never looks like a small counter, so a stray write of zeros, of a version or of a
 * steal value all change it. Regions can be exempted (the registered structure itself).
 *
 * <p>Use: {@code GuardBytes g = GuardBytes.plant(memory, from, length).except(gpa, 64);} ... drive
 * the vCPU ... {@code g.violations()} is empty when nothing outside the exempted bytes changed.
 *
 * <p><b>Two complementary passes.</b> One pattern cannot see a write of the very value it holds
 * (a hypervisor that stores {@code pattern(a)} at {@code a} leaves it intact). So every guard is
 * checked in two passes: {@link #checkAndFlip()} reports what changed and re-plants every watched
 * byte with the complement of what it held; the workload runs again and the second check sees any
 * write the first could not: no byte value equals both {@code b} and {@code ~b}.
 */
public final class GuardBytes {

    private final GuestMemory memory;
    private final long gpa;
    private final byte[] expected;
    private final List<long[]> exempt = new ArrayList<>();
    private int passes;

    private GuardBytes(GuestMemory memory, long gpa, byte[] expected) {
        this.memory = memory;
        this.gpa = gpa;
        this.expected = expected;
    }

    /** The canary byte at {@code offset} of a planted range: 0xA0..0xBF, never zero. */
    public static byte pattern(long offset) {
        return (byte) (0xA0 | ((offset * 7) & 0x1F));
    }

    /** Fills {@code [gpa, gpa + length)} with the canary pattern and watches it. */
    public static GuardBytes plant(GuestMemory memory, long gpa, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = pattern(gpa + i);
        }
        memory.write(gpa, b);
        return new GuardBytes(memory, gpa, b);
    }

    /** Watches {@code [gpa, gpa + length)} as it is now, without planting anything. */
    public static GuardBytes watch(GuestMemory memory, long gpa, int length) {
        return new GuardBytes(memory, gpa, memory.read(gpa, length));
    }

    /** Bytes in {@code [from, from + length)} may change (e.g. the registered structure). */
    public GuardBytes except(long from, int length) {
        exempt.add(new long[]{from, from + length});
        return this;
    }

    public long gpa() {
        return gpa;
    }

    public int length() {
        return expected.length;
    }

    private boolean exempted(long address) {
        for (long[] e : exempt) {
            if (address >= e[0] && address < e[1]) {
                return true;
            }
        }
        return false;
    }

    /** Guest-physical addresses of watched, non-exempt bytes that no longer hold what they held. */
    public List<Long> changedAddresses() {
        byte[] now = memory.read(gpa, expected.length);
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < now.length; i++) {
            if (now[i] != expected[i] && !exempted(gpa + i)) {
                out.add(gpa + i);
            }
        }
        return out;
    }

    /**
     * Empty when nothing changed; otherwise a description: how many bytes changed where, and the
     * hex dump (expected, then found) of every 64-byte line holding a change (at most eight lines).
     */
    public String violations() {
        byte[] now = memory.read(gpa, expected.length);
        List<Long> changed = new ArrayList<>();
        for (int i = 0; i < now.length; i++) {
            if (now[i] != expected[i] && !exempted(gpa + i)) {
                changed.add(gpa + i);
            }
        }
        if (changed.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%d byte(s) changed outside the bytes the hypervisor may write, first at 0x%x, last at 0x%x",
                changed.size(), changed.get(0), changed.get(changed.size() - 1)));
        if (!exempt.isEmpty()) {
            sb.append(" (allowed:");
            for (long[] e : exempt) {
                sb.append(String.format(" [0x%x, 0x%x)", e[0], e[1]));
            }
            sb.append(')');
        }
        sb.append('\n');
        long lastLine = Long.MIN_VALUE;
        int lines = 0;
        for (long address : changed) {
            long line = (address - gpa) / 64 * 64;
            if (line == lastLine) {
                continue;
            }
            lastLine = line;
            if (++lines > 8) {
                sb.append("... more lines changed\n");
                break;
            }
            int len = (int) Math.min(64, expected.length - line);
            byte[] before = new byte[len];
            byte[] after = new byte[len];
            System.arraycopy(expected, (int) line, before, 0, len);
            System.arraycopy(now, (int) line, after, 0, len);
            sb.append(HexDump.beforeAfter(gpa + line, before, after));
        }
        return sb.toString();
    }

    /**
     * The second pass: every watched, non-exempt byte is re-planted with the complement of what
     * it was expected to hold (whatever it holds now), and that is the new expectation.
     */
    public GuardBytes flip() {
        byte[] next = memory.read(gpa, expected.length);
        for (int i = 0; i < next.length; i++) {
            if (!exempted(gpa + i)) {
                next[i] = (byte) ~expected[i];
            }
        }
        writeWatched(next);
        System.arraycopy(next, 0, expected, 0, next.length);
        passes++;
        return this;
    }

    /** {@link #violations()} of this pass, then {@link #flip()} for the next one. */
    public String checkAndFlip() {
        String v = violations();
        flip();
        return v;
    }

    /** How many times the pattern was flipped: a guard proves "any value" only after two checked passes. */
    public int passes() {
        return passes;
    }

    /** Writes the non-exempt runs of {@code bytes} (exempt bytes, e.g. a live structure, are not touched). */
    private void writeWatched(byte[] bytes) {
        int i = 0;
        while (i < bytes.length) {
            if (exempted(gpa + i)) {
                i++;
                continue;
            }
            int j = i;
            while (j < bytes.length && !exempted(gpa + j)) {
                j++;
            }
            byte[] run = new byte[j - i];
            System.arraycopy(bytes, i, run, 0, run.length);
            memory.write(gpa + i, run);
            i = j;
        }
    }

    /** Takes what is there now as the new expectation (after a change the test caused itself). */
    public GuardBytes rebase() {
        byte[] now = memory.read(gpa, expected.length);
        System.arraycopy(now, 0, expected, 0, now.length);
        return this;
    }
}
