package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;
import org.testng.annotations.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * Whatever an adapter sends, the TCK's decoder answers with an {@link AdapterFault} that says what
 * was wrong (or a valid result): never another exception, never a hang, and the link is closed.
 * Scripted adapters: the bytes an adapter "writes" are fixed in advance.
 */
public class AdapterSessionFaultTest {

    static final String HELLO = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocol\":1,\"provider\":{\"id\":\"mini\",\"description\":\"d\",\"version\":\"1\"},"
            + "\"architectures\":[\"X86_64\"],\"capabilities\":[],\"timing\":{\"exact\":true,\"tolerance_ns\":0},"
            + "\"availability\":{\"available\":true,\"reason\":\"\"},\"memory\":\"sampled\"}}\n";

    /** A link whose adapter output is {@code script}; what the TCK sends is kept. */
    static final class Scripted implements AdapterLink {
        final InputStream in;
        final ByteArrayOutputStream sent = new ByteArrayOutputStream();
        boolean closed;

        Scripted(InputStream in) {
            this.in = in;
        }

        Scripted(String script) {
            this(new ByteArrayInputStream(script.getBytes(StandardCharsets.ISO_8859_1)));
        }

        @Override
        public InputStream input() {
            return in;
        }

        @Override
        public OutputStream output() {
            return sent;
        }

        @Override
        public String origin() {
            return "scripted";
        }

        @Override
        public String logTail() {
            return "adapter log line";
        }

        @Override
        public Path sharedDir() {
            return Path.of("/nonexistent");
        }

        @Override
        public String sharedDirForAdapter() {
            return "/nonexistent";
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static final Duration SHORT = Duration.ofMillis(300);

    private static AdapterFault faultOf(String script) {
        Scripted link = new Scripted(script);
        try {
            AdapterSession.open(link, SHORT);
        } catch (AdapterFault f) {
            assertThat(link.closed).as("the link is closed after a fault").isTrue();
            return f;
        }
        return fail("no fault for %s", script);
    }

    @Test
    public void malformedHandshakesAreFaultsThatSayWhy() {
        assertThat(faultOf("")).hasMessageContaining("closed the connection (or exited) while `hello` was pending")
                .hasMessageContaining("adapter log line");
        assertThat(faultOf("not json\n")).hasMessageContaining("not JSON");
        assertThat(faultOf("[1,2]\n")).hasMessageContaining("not a JSON object");
        assertThat(faultOf(HELLO.replace("\"id\":1", "\"id\":7"))).hasMessageContaining("out of order");
        assertThat(faultOf(HELLO.replace("\"protocol\":1", "\"protocol\":2"))).hasMessageContaining("protocol version 2");
        assertThat(faultOf(HELLO.replace("\"X86_64\"", "\"MIPS\""))).hasMessageContaining("unknown Architecture");
        assertThat(faultOf(HELLO.replace("\"exact\":true", "\"exact\":\"yes\""))).hasMessageContaining("\"exact\" must be true or false");
        assertThat(faultOf(HELLO.replace("\"tolerance_ns\":0", "\"tolerance_ns\":5"))).hasMessageContaining("exact timing has no tolerance");
        assertThat(faultOf(HELLO.substring(0, 40))).hasMessageContaining("ended inside a line");
        assertThat(faultOf("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocol\":1" + "0".repeat(5000) + "}}\n")).hasMessageContaining("not JSON");
        assertThat(faultOf("{\"jsonrpc\":\"2.0\",\"id\":1}\n")).hasMessageContaining("exactly one of \"result\" and \"error\"");
    }

    @Test
    public void anAdapterThatNeverAnswersTimesOut() {
        InputStream silent = new InputStream() {
            @Override
            public int read() throws java.io.IOException {
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
                return -1;
            }
        };
        Scripted link = new Scripted(silent);
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> AdapterSession.open(link, SHORT)).isInstanceOf(AdapterFault.class)
                .hasMessageContaining("did not answer `hello` within 0.3 s");
        assertThat((System.nanoTime() - t0) / 1e9).as("seconds until the fault").isLessThan(5);
        assertThat(link.closed).isTrue();
    }

    @Test
    public void aHugeLineIsAFaultNotAnOutOfMemoryError() {
        long size = Wire.MAX_LINE + 10L;
        InputStream huge = new InputStream() {
            long n;

            @Override
            public int read() {
                return n++ < size ? 'x' : n == size + 1 ? '\n' : -1;
            }
        };
        Scripted link = new Scripted(huge);
        assertThatThrownBy(() -> AdapterSession.open(link, Duration.ofSeconds(60))).isInstanceOf(AdapterFault.class)
                .hasMessageContaining("longer than the limit");
    }

    @Test
    public void errorResponsesBecomeTheSpiExceptionsTheyStandFor() {
        String script = HELLO
                + "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":1,\"message\":\"no ARM64 here\"}}\n"
                + "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"vm\":5}}\n"
                + "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":2,\"message\":\"outside RAM\"}}\n"
                + "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"bytes\":\"zz\"}}\n";
        Scripted link = new Scripted(script);
        AdapterSession s = AdapterSession.open(link, SHORT);
        VmSpec spec = new VmSpec(Architecture.X86_64, 1, List.of(new MemoryRegion(0, 1 << 20)), true);
        assertThatThrownBy(() -> s.open(spec)).isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("no ARM64 here");
        var vm = s.open(spec);
        assertThatThrownBy(() -> vm.memory().read(0x200000, 8)).isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("outside RAM");
        assertThatThrownBy(() -> vm.memory().read(0, 1)).isInstanceOf(AdapterFault.class).hasMessageContaining("hexadecimal");
        assertThat(link.closed).isTrue();
        assertThatThrownBy(() -> vm.vcpu(0).run(Duration.ofMillis(1))).isInstanceOf(AdapterFault.class)
                .hasMessageContaining("ended earlier");
        vm.close();    // a dead session's VM closes quietly
    }

    /** Random mutations of a valid handshake: truncations, wrong types, huge numbers, binary noise. */
    @Test
    public void theDecoderSurvivesFuzzedInput() {
        Random random = new Random(0x7ec);
        String[] replacements = {"1", "-1", "18446744073709551616", "1e400", "\"x\"", "null", "true", "[]", "{}", "\"\\u0000\"",
                "99999999999999999999999999999999999999999", "0.5", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"};
        int faults = 0;
        for (int i = 0; i < 3000; i++) {
            String s = HELLO;
            switch (random.nextInt(5)) {
                case 0 -> s = s.substring(0, random.nextInt(s.length())) + "\n";
                case 1 -> {
                    int at = random.nextInt(s.length() - 1);
                    s = s.substring(0, at) + (char) random.nextInt(256) + s.substring(at + 1);
                }
                case 2 -> {
                    String[] values = {"1", "\"mini\"", "true", "0", "[\"X86_64\"]", "[]", "\"sampled\""};
                    String v = values[random.nextInt(values.length)];
                    s = s.replaceFirst(java.util.regex.Pattern.quote(v), java.util.regex.Matcher.quoteReplacement(replacements[random.nextInt(replacements.length)]));
                }
                case 3 -> {
                    byte[] b = new byte[random.nextInt(200)];
                    random.nextBytes(b);
                    s = new String(b, StandardCharsets.ISO_8859_1) + "\n";
                }
                default -> s = s.replace("\n", "") + s;     // two messages on one line
            }
            Scripted link = new Scripted(s);
            try {
                AdapterSession.open(link, SHORT);
            } catch (AdapterFault f) {
                faults++;
                assertThat(f.getMessage()).as("fault message for %s", s).startsWith("adapter scripted ");
                assertThat(link.closed).isTrue();
            } catch (Throwable t) {
                fail("input %s made the decoder throw %s", s, t);
            }
        }
        assertThat(faults).as("fuzzed handshakes rejected").isGreaterThan(1500);
    }

    @Test
    public void twoInputsOneAfterTheOtherAreRead() {
        // a response split across reads of the stream is one message
        InputStream split = new SequenceInputStream(new ByteArrayInputStream(HELLO.substring(0, 30).getBytes(StandardCharsets.UTF_8)),
                new ByteArrayInputStream(HELLO.substring(30).getBytes(StandardCharsets.UTF_8)));
        AdapterSession s = AdapterSession.open(new Scripted(split), SHORT);
        assertThat(s.id()).isEqualTo("mini");
        assertThat(s.sampled()).isTrue();
    }
}
