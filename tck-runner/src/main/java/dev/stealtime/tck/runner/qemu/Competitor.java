package dev.stealtime.tck.runner.qemu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The competitor helper ({@code native/qemu/competitor.c}), one process per VM: a SCHED_FIFO thread
 * that pins QEMU's vCPU threads and, on request, takes a vCPU thread's CPU for a while as the C
 * adapter's competitor does, so the thread stays runnable but off its CPU.
 */
final class Competitor implements AutoCloseable {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

    private final OutputStream in;
    private final BufferedReader out;
    private final Runnable stop;

    /**
     * A helper already started, reached through {@code toHelper} and {@code fromHelper}; waits for its
     * {@code ready}. {@code stop} ends it (called by {@link #close}).
     */
    Competitor(OutputStream toHelper, InputStream fromHelper, Runnable stop) throws IOException {
        this.in = toHelper;
        this.out = new BufferedReader(new InputStreamReader(fromHelper, StandardCharsets.US_ASCII));
        this.stop = stop;
        // a helper that never says ready (its port never connected) must not hold the caller forever
        java.util.concurrent.CompletableFuture<Void> watchdog = java.util.concurrent.CompletableFuture.runAsync(stop,
                java.util.concurrent.CompletableFuture.delayedExecutor(READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS));
        String first;
        try {
            first = out.readLine();
        } catch (IOException e) {
            first = null;
        } finally {
            watchdog.cancel(false);
        }
        if (!"ready".equals(first)) {
            close();
            throw new IOException("the competitor helper did not start within " + READY_TIMEOUT.toSeconds() + " s: "
                    + (first == null ? "no answer" : first));
        }
    }

    /** Starts the helper {@code binary} as a process of this host. */
    static Competitor start(Path binary) throws IOException {
        Process process = new ProcessBuilder(binary.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        return new Competitor(process.getOutputStream(), process.getInputStream(), () -> {
            try {
                process.getOutputStream().close();      // it exits at end of input
            } catch (IOException ignored) {
                // killed below
            }
            try {
                if (!process.waitFor(2, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(2, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Pins thread {@code tid} to {@code cpu}. */
    void pin(int tid, int cpu) throws IOException {
        expectOk(ask("pin " + tid + " " + cpu));
    }

    /** Starts a hold of {@code cpu} for {@code hold} once thread {@code tid} runs (1 ms after); answer with {@link #awaitHold}. */
    void startPreempt(int tid, int cpu, Duration hold) throws IOException {
        send("preempt " + tid + " " + cpu + " " + hold.toNanos());
    }

    /**
     * Arms a hold of {@code cpu} for {@code hold} that begins once thread {@code tid} has woken for
     * the request sent next and blocked in the guest's HLT; answer with {@link #awaitHold}.
     */
    void armIdle(int tid, int cpu, Duration hold) throws IOException {
        send("idle " + tid + " " + cpu + " " + hold.toNanos());
        String a = out.readLine();
        if (!"armed".equals(a)) {
            throw new IOException("competitor helper: " + (a == null ? "exited" : a));
        }
    }

    /**
     * Waits for the answer to the last hold: true when it was made, false when it missed its moment
     * ({@link #cancel} came first); throws with the helper's reason when it failed.
     */
    boolean awaitHold() throws IOException {
        String a = out.readLine();
        if (a != null && a.startsWith("missed")) {
            return false;
        }
        expectOk(a);
        return true;
    }

    /** Gives up a hold still waiting for its moment (it then answers "missed"); ignored once the hold began. */
    void cancel() {
        try {
            send("cancel");
        } catch (IOException e) {
            // the helper is gone: awaitHold says so
        }
    }

    private String ask(String request) throws IOException {
        send(request);
        return out.readLine();
    }

    private synchronized void send(String request) throws IOException {
        in.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
        in.flush();
    }

    private static void expectOk(String answer) throws IOException {
        if (!"ok".equals(answer)) {
            throw new IOException("competitor helper: " + (answer == null ? "exited" : answer));
        }
    }

    @Override
    public void close() {
        stop.run();
    }
}
