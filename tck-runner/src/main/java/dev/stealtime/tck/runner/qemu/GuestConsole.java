package dev.stealtime.tck.runner.qemu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The test guest's serial line protocol (docs/test-guest-protocol.md) on QEMU's {@code -serial stdio}:
 * one request per line, one answer per line, in order. A reader thread queues the guest's lines so
 * every wait has a deadline.
 */
final class GuestConsole {

    private static final String EOF = "\u0000eof";

    private final OutputStream toGuest;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final Thread reader;

    GuestConsole(InputStream fromGuest, OutputStream toGuest, String name) {
        this.toGuest = toGuest;
        this.reader = new Thread(() -> pump(fromGuest), name + " serial");
        reader.setDaemon(true);
        reader.start();
    }

    private void pump(InputStream in) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII))) {
            String line;
            while ((line = r.readLine()) != null) {
                line = line.strip();
                if (!line.isEmpty()) {
                    lines.add(line);
                }
            }
        } catch (IOException ignored) {
            // QEMU went away: the EOF marker says so
        } finally {
            lines.add(EOF);
        }
    }

    /** Waits for the guest's {@code ready tck-guest x86_64}; lines before it are ignored. */
    void awaitReady(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = next(deadline, "ready tck-guest x86_64");
            if (line.startsWith("ready tck-guest ")) {
                return;
            }
        }
    }

    /** Sends one request without waiting for its answer. */
    synchronized void send(String request) throws IOException {
        toGuest.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
        toGuest.flush();
    }

    /** The answer to the request sent before, within {@code timeout}. */
    String answer(String request, Duration timeout) throws IOException {
        return next(System.nanoTime() + timeout.toNanos(), "the answer to '" + request + "'");
    }

    /** Sends {@code request} and returns its answer. */
    synchronized String ask(String request, Duration timeout) throws IOException {
        send(request);
        return answer(request, timeout);
    }

    private String next(long deadline, String what) throws IOException {
        try {
            long left = deadline - System.nanoTime();
            String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : lines.poll();
            if (line == null) {
                throw new NoAnswerException("the test guest did not send " + what + " in time");
            }
            if (line.equals(EOF)) {
                lines.add(EOF);
                throw new IOException("QEMU closed the serial port before sending " + what);
            }
            if (line.startsWith("panic")) {
                throw new IOException("the test guest panicked (expected " + what + "): " + line);
            }
            return line;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for " + what, e);
        }
    }
}
