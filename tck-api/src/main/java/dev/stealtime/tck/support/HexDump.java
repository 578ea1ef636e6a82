package dev.stealtime.tck.support;

/** Canonical hex dump: {@code 0x00004000  00 01 02 ... 0f  |................|}. */
public final class HexDump {

    private HexDump() {
    }

    public static String of(long baseAddress, byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (int off = 0; off < bytes.length; off += 16) {
            sb.append(String.format("0x%08x ", baseAddress + off));
            StringBuilder ascii = new StringBuilder();
            for (int i = 0; i < 16; i++) {
                if (i == 8) {
                    sb.append(' ');
                }
                if (off + i < bytes.length) {
                    int b = bytes[off + i] & 0xff;
                    sb.append(String.format(" %02x", b));
                    ascii.append(b >= 0x20 && b < 0x7f ? (char) b : '.');
                } else {
                    sb.append("   ");
                }
            }
            sb.append("  |").append(ascii).append("|\n");
        }
        return sb.toString();
    }

    /** Two dumps one after the other, with the offsets that differ listed. */
    public static String beforeAfter(long baseAddress, byte[] before, byte[] after) {
        StringBuilder diff = new StringBuilder();
        for (int i = 0; i < Math.min(before.length, after.length); i++) {
            if (before[i] != after[i]) {
                diff.append(diff.length() == 0 ? "" : ",").append(i);
            }
        }
        return "before:\n" + of(baseAddress, before) + "after:\n" + of(baseAddress, after)
                + "bytes changed at offsets: [" + diff + "]\n";
    }
}
