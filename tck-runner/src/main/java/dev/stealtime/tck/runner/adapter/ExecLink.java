package dev.stealtime.tck.runner.adapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code exec:COMMAND ARGS…}: the adapter is a child process speaking on its stdin/stdout; its
 * stderr is kept (the tail for fault messages, all of it in the log file when there is one).
 * Closing kills the process and its descendants and deletes the shared directory.
 */
public final class ExecLink implements AdapterLink {

    private final List<String> command;
    private final Process process;
    private final Path shared;
    private final LinkFiles.Tail tail;
    private final Thread stderrPump;
    private boolean closed;

    private ExecLink(List<String> command, Path logFile) {
        this.command = List.copyOf(command);
        this.shared = LinkFiles.sharedDir();
        this.tail = new LinkFiles.Tail(logFile, "[" + String.join(" ", command) + "] ");
        try {
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().put("TCK_SHARED_DIR", shared.toString());
            this.process = pb.start();
        } catch (IOException e) {
            LinkFiles.deleteTree(shared);
            throw new UncheckedIOException("cannot start adapter `" + String.join(" ", command) + "`: " + e.getMessage(), e);
        }
        this.stderrPump = tail.pump(process.getErrorStream(), "tck-adapter-stderr");
    }

    /** Starts the adapter. */
    public static ExecLink start(List<String> command, Path logFile) {
        return new ExecLink(command, logFile);
    }

    /** Splits a command line on blanks, honouring '…' and "…" quoting and backslash escapes (no shell). */
    public static List<String> split(String line) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean inWord = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else if (c == '\\' && quote == '"' && i + 1 < line.length()) {
                    cur.append(line.charAt(++i));
                } else {
                    cur.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                inWord = true;
            } else if (c == '\\' && i + 1 < line.length()) {
                cur.append(line.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    out.add(cur.toString());
                    cur.setLength(0);
                    inWord = false;
                }
            } else {
                cur.append(c);
                inWord = true;
            }
        }
        if (quote != 0) {
            throw new IllegalArgumentException("unbalanced quote in exec: command `" + line + "`");
        }
        if (inWord) {
            out.add(cur.toString());
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("exec: needs a command, e.g. exec:\"./my-adapter --stdio\"");
        }
        return out;
    }

    @Override
    public InputStream input() {
        return process.getInputStream();
    }

    @Override
    public OutputStream output() {
        return process.getOutputStream();
    }

    @Override
    public String origin() {
        return "exec:" + String.join(" ", command);
    }

    @Override
    public String logTail() {
        return tail.text();
    }

    @Override
    public Path sharedDir() {
        return shared;
    }

    @Override
    public String sharedDirForAdapter() {
        return shared.toString();
    }

    @Override
    public java.util.Optional<String> exited() {
        try {
            if (process.waitFor(1, TimeUnit.SECONDS)) {
                return java.util.Optional.of("exited with status " + process.exitValue());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return java.util.Optional.empty();
    }

    /** The adapter's process id (tests). */
    public long pid() {
        return process.pid();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            process.getOutputStream().close();     // a well-behaved adapter exits at end of input
        } catch (IOException e) {
            // already gone
        }
        try {
            if (!process.waitFor(2, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            stderrPump.join(1000);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        LinkFiles.deleteTree(shared);
    }
}
