package dev.stealtime.tck.runner.adapter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.util.HexFormat;

/**
 * The protocol's wire form (docs/adapter-protocol.md §1): one JSON object per line, unsigned
 * 64-bit integers, hex byte strings. Every decoding method rejects what the document does not
 * allow with a {@link Malformed} that says what was wrong, never anything else.
 */
final class Wire {

    /** Longest line either side accepts. */
    static final int MAX_LINE = 64 << 20;
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);
    private static final HexFormat HEX = HexFormat.of();

    static final ObjectMapper JSON = new ObjectMapper();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxStringLength(MAX_LINE).maxNumberLength(40).maxNestingDepth(16).build());
    }

    private Wire() {
    }

    /** Something on the wire that the protocol does not allow. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message);
        }
    }

    static ObjectNode object() {
        return JSON.createObjectNode();
    }

    /** Writes one message and its newline, flushed. */
    static void write(OutputStream out, JsonNode message) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(message);
        synchronized (out) {
            out.write(bytes);
            out.write('\n');
            out.flush();
        }
    }

    /**
     * Reads one line (without its newline), or null at the end of the stream. A line longer than
     * {@link #MAX_LINE} is consumed up to its end and reported as malformed.
     */
    static byte[] readLine(InputStream in) throws IOException, Malformed {
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        long length = 0;
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                if (length > MAX_LINE) {
                    throw new Malformed("a line of " + length + " bytes, longer than the limit of " + MAX_LINE);
                }
                return line.toByteArray();
            }
            length++;
            if (length <= MAX_LINE) {
                line.write(b);
            }
        }
        if (length > 0) {
            throw new Malformed("the stream ended inside a line (" + length + " bytes without a newline: " + excerpt(line.toByteArray()) + ")");
        }
        return null;
    }

    /** Parses a line that must hold one JSON object. */
    static ObjectNode parseObject(byte[] line) throws Malformed {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new Malformed("not JSON (" + e.getOriginalMessage() + "): " + excerpt(line));
        } catch (IOException e) {
            throw new Malformed("unreadable: " + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw new Malformed("not a JSON object: " + excerpt(line));
        }
        return (ObjectNode) node;
    }

    /** The start of a line, printable, for messages. */
    static String excerpt(byte[] line) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < line.length && sb.length() < 120; i++) {
            int c = line[i] & 0xff;
            sb.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return "`" + sb + (line.length > 120 ? "…` (" + line.length + " bytes)" : "`");
    }

    static JsonNode field(JsonNode obj, String name) throws Malformed {
        JsonNode v = obj.get(name);
        if (v == null || v.isNull()) {
            throw new Malformed("missing field \"" + name + "\" in " + brief(obj));
        }
        return v;
    }

    /** An unsigned 64-bit integer, as its two's-complement bits. */
    static long u64(JsonNode obj, String name) throws Malformed {
        JsonNode v = field(obj, name);
        return u64Value(v, name);
    }

    static long u64Value(JsonNode v, String name) throws Malformed {
        if (!v.isIntegralNumber()) {
            throw new Malformed("\"" + name + "\" must be an unsigned integer, not " + brief(v));
        }
        if (v.canConvertToLong() && v.longValue() >= 0) {
            return v.longValue();
        }
        BigInteger b = v.bigIntegerValue();
        if (b.signum() < 0 || b.compareTo(TWO_64) >= 0) {
            throw new Malformed("\"" + name + "\" must be an unsigned 64-bit integer, not " + b);
        }
        return b.longValue();
    }

    /** A signed integer within [min, max]. */
    static long integer(JsonNode obj, String name, long min, long max) throws Malformed {
        JsonNode v = field(obj, name);
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
            throw new Malformed("\"" + name + "\" must be an integer in [" + min + ", " + max + "], not " + brief(v));
        }
        return v.longValue();
    }

    static boolean bool(JsonNode obj, String name) throws Malformed {
        JsonNode v = field(obj, name);
        if (!v.isBoolean()) {
            throw new Malformed("\"" + name + "\" must be true or false, not " + brief(v));
        }
        return v.booleanValue();
    }

    static String text(JsonNode obj, String name) throws Malformed {
        JsonNode v = field(obj, name);
        if (!v.isTextual()) {
            throw new Malformed("\"" + name + "\" must be a string, not " + brief(v));
        }
        return v.textValue();
    }

    static byte[] hex(JsonNode obj, String name) throws Malformed {
        String s = text(obj, name);
        try {
            return HEX.parseHex(s);
        } catch (IllegalArgumentException e) {
            throw new Malformed("\"" + name + "\" must be hexadecimal bytes: " + e.getMessage());
        }
    }

    static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }

    /** Writes {@code value} as an unsigned 64-bit integer. */
    static void putU64(ObjectNode obj, String name, long value) {
        if (value >= 0) {
            obj.put(name, value);
        } else {
            obj.put(name, new BigInteger(Long.toUnsignedString(value)));
        }
    }

    static String brief(JsonNode v) {
        String s = v.toString();
        return s.length() > 120 ? s.substring(0, 120) + "…" : s;
    }
}
