package dev.stealtime.tck.runner.qemu;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * QEMU's monitor protocol on a Unix socket in the VM's private directory: just enough to learn the
 * vCPU threads ({@code query-cpus-fast}: cpu-index to thread-id). Closed right after.
 */
final class Qmp {

    private static final Pattern CPU_INDEX = Pattern.compile("\"cpu-index\":\\s*(\\d+)");
    private static final Pattern THREAD_ID = Pattern.compile("\"thread-id\":\\s*(\\d+)");

    private Qmp() {
    }

    /** cpu-index to host thread id of every vCPU, asked on the QMP socket at {@code socket}. */
    static Map<Integer, Integer> vcpuThreads(Path socket, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.exists(socket)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("QEMU did not create its QMP socket " + socket + " within " + timeout.toSeconds() + " s");
            }
            sleep();
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return vcpuThreads(ch, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
    }

    /**
     * The same on {@code ch}, a connection to a QEMU monitor that has not yet greeted: waits for the
     * greeting (lines before it are skipped), asks, and closes {@code ch} should the answers not come
     * within {@code timeout} (a QEMU inside an emulated machine that died closes nothing here).
     */
    static Map<Integer, Integer> vcpuThreads(SocketChannel ch, Duration timeout) throws IOException {
        String answer = guarded(ch, timeout, in -> {
            readUntil(ch, in, "\"QMP\"");
            send(ch, "{\"execute\":\"qmp_capabilities\"}");
            readUntil(ch, in, "\"return\"");
            in.setLength(0);
            send(ch, "{\"execute\":\"query-cpus-fast\"}");
            return readUntil(ch, in, "\"return\"");
        });
        return threads(answer);
    }

    /** cpu-index to thread id in the answer to {@code query-cpus-fast}. */
    static Map<Integer, Integer> threads(String answer) throws IOException {
        Map<Integer, Integer> threads = new TreeMap<>();
        for (String cpu : topLevelObjects(answer)) {
            Matcher index = CPU_INDEX.matcher(cpu);
            Matcher thread = THREAD_ID.matcher(cpu);
            if (index.find() && thread.find()) {
                threads.put(Integer.parseInt(index.group(1)), Integer.parseInt(thread.group(1)));
            }
        }
        if (threads.isEmpty()) {
            throw new IOException("QMP query-cpus-fast named no vCPU thread: " + answer);
        }
        return threads;
    }

    /**
     * Connects to the monitor at {@code socket}, greets it, runs {@code json} (one command) and
     * returns its {@code return} line; an error answer is an IOException with QEMU's words.
     */
    static String execute(Path socket, String json, Duration timeout) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return guarded(ch, timeout, in -> {
                readUntil(ch, in, "\"QMP\"");
                send(ch, "{\"execute\":\"qmp_capabilities\"}");
                readUntil(ch, in, "\"return\"");
                send(ch, json);
                return readUntil(ch, in, "\"return\"");
            });
        }
    }

    /** Runs {@code json} on {@code ch}, a monitor already past {@code qmp_capabilities}; returns the {@code return} line. */
    static String execute(SocketChannel ch, String json, Duration timeout) throws IOException {
        return guarded(ch, timeout, in -> {
            send(ch, json);
            return readUntil(ch, in, "\"return\"");
        });
    }

    private interface Exchange {
        String run(StringBuilder in) throws IOException;
    }

    /** Runs {@code exchange} on {@code ch}, closing {@code ch} should it not be done within {@code timeout}. */
    private static String guarded(SocketChannel ch, Duration timeout, Exchange exchange) throws IOException {
        AtomicBoolean late = new AtomicBoolean();
        CompletableFuture<Void> watchdog = CompletableFuture.runAsync(() -> {
            late.set(true);
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing is all it does
            }
        }, CompletableFuture.delayedExecutor(timeout.toMillis(), TimeUnit.MILLISECONDS));
        try {
            return exchange.run(new StringBuilder());
        } catch (IOException e) {
            if (late.get()) {
                throw new IOException("QEMU's monitor did not answer within " + timeout.toSeconds() + " s", e);
            }
            throw e;
        } finally {
            watchdog.cancel(false);
        }
    }

    /**
     * The objects of the {@code return} array, each with its nested objects (the topology
     * {@code props}, which has a {@code thread-id} of its own) cut out.
     */
    static List<String> topLevelObjects(String answer) {
        List<String> out = new ArrayList<>();
        int start = answer.indexOf('[');
        int depth = 0;
        StringBuilder cur = new StringBuilder();
        for (int i = start + 1; start >= 0 && i < answer.length(); i++) {
            char c = answer.charAt(i);
            if (c == '{') {
                depth++;
            } else if (c == '}') {
                depth--;
                if (depth == 0) {
                    out.add(cur.toString());
                    cur.setLength(0);
                }
            } else if (depth == 1) {
                cur.append(c);
            }
        }
        return out;
    }

    private static void send(SocketChannel ch, String json) throws IOException {
        ByteBuffer b = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads lines until one contains {@code marker} (or an error); returns that line. */
    private static String readUntil(SocketChannel ch, StringBuilder in, String marker) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096);
        while (true) {
            int nl;
            while ((nl = in.indexOf("\n")) >= 0) {
                String line = in.substring(0, nl);
                in.delete(0, nl + 1);
                if (line.contains("\"error\"")) {
                    throw new IOException("QMP answered an error: " + line.strip());
                }
                if (line.contains(marker)) {
                    return line;
                }
            }
            b.clear();
            if (ch.read(b) < 0) {
                throw new IOException("QEMU closed the QMP socket while the TCK waited for " + marker);
            }
            in.append(new String(b.array(), 0, b.position(), StandardCharsets.UTF_8));
        }
    }

    private static void sleep() throws IOException {
        try {
            Thread.sleep(5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
