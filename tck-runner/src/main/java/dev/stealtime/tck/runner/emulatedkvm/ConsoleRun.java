package dev.stealtime.tck.runner.emulatedkvm;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs an emulated machine to its end: its console (stdout and stderr) goes line by line into a log
 * file and a list; it stops when a line matches {@code done} (then the machine is given a moment to
 * power off), when it exits, or at the timeout. The process never outlives the call.
 */
public final class ConsoleRun {

    /** The console lines and whether the machine reached {@code done} (or exited) by itself. */
    public record Result(List<String> lines, boolean finished, long millis) {
    }

    private ConsoleRun() {
    }

    public static Result run(List<String> command, Path log, Pattern done, Duration timeout) throws IOException {
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        List<String> lines = Collections.synchronizedList(new ArrayList<>());
        boolean[] seen = {false};
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String l;
                while ((l = r.readLine()) != null) {
                    l = l.replace("\r", "");
                    lines.add(l);
                    if (done.matcher(l).find()) {
                        synchronized (seen) {
                            seen[0] = true;
                            seen.notifyAll();
                        }
                    }
                }
            } catch (IOException e) {
                // the machine ended
            }
        }, "replay console");
        reader.setDaemon(true);
        reader.start();
        boolean finished;
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            synchronized (seen) {
                while (!seen[0] && p.isAlive() && System.nanoTime() < deadline) {
                    seen.wait(200);
                }
                finished = seen[0] || !p.isAlive();
            }
            if (!p.waitFor(seen[0] ? 10 : 0, TimeUnit.SECONDS)) {
                p.destroy();
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(5, TimeUnit.SECONDS);
                }
            }
            reader.join(2000);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        List<String> copy;
        synchronized (lines) {
            copy = List.copyOf(lines);
        }
        Files.write(log, copy, StandardCharsets.UTF_8);
        return new Result(copy, finished, (System.nanoTime() - t0) / 1_000_000);
    }
}
