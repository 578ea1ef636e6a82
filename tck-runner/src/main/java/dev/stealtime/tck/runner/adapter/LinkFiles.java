package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.stream.Stream;

/** What every link needs: a private shared directory, and the tail of a log. */
final class LinkFiles {

    private LinkFiles() {
    }

    /** A new private (0700) directory for one session's RAM files. */
    static Path sharedDir() {
        try {
            return Files.createTempDirectory("tck-adapter-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the adapter's shared directory", e);
        }
    }

    /** Deletes {@code dir} and what is in it; quiet. */
    static void deleteTree(Path dir) {
        PrivateFiles.deleteTree(dir);
    }

    /** The last lines of a log, and optionally every line appended to a file. */
    static final class Tail {
        private static final int LINES = 40;
        private final Deque<String> lines = new ArrayDeque<>();
        private final Path logFile;
        private final String prefix;

        Tail(Path logFile, String prefix) {
            this.logFile = logFile;
            this.prefix = prefix;
        }

        synchronized void add(String line) {
            if (line.length() > 400) {
                line = line.substring(0, 400) + "…";
            }
            lines.addLast(line);
            if (lines.size() > LINES) {
                lines.removeFirst();
            }
            if (logFile != null) {
                try {
                    Files.writeString(logFile, prefix + line + "\n", StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                } catch (IOException e) {
                    // the tail is still kept
                }
            }
        }

        synchronized String text() {
            return String.join("\n", lines);
        }

        /** Pumps {@code in} line by line into this tail on a daemon thread. */
        Thread pump(InputStream in, String name) {
            Thread t = new Thread(() -> {
                try (var r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        add(l);
                    }
                } catch (IOException e) {
                    // the stream ended
                }
            }, name);
            t.setDaemon(true);
            t.start();
            return t;
        }
    }
}
