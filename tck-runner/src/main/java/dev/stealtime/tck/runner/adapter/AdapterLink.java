package dev.stealtime.tck.runner.adapter;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * One connected session with an adapter: the two byte streams of the protocol, where they came
 * from, the adapter's recent log, and the shared directory for guest-RAM files as each side sees it.
 * Closing it ends the session for good: the adapter process is killed (exec:, container:) or the
 * socket disconnected (unix:), and the shared directory is deleted.
 */
public interface AdapterLink extends AutoCloseable {

    /** What the adapter writes (its stdout, or the socket). */
    InputStream input();

    /** What the adapter reads (its stdin, or the socket). */
    OutputStream output();

    /** Where the adapter came from, for messages: {@code exec:./my-adapter}, {@code unix:/run/acme.sock}. */
    String origin();

    /** The last lines the adapter wrote to its stderr (or ""), attached to every fault. */
    String logTail();

    /** The shared directory on the TCK's side (it maps RAM files from here). */
    Path sharedDir();

    /** The shared directory as the adapter sees it (sent in {@code hello}); the same path unless in a container. */
    String sharedDirForAdapter();

    /**
     * How the adapter ended, when it has (an {@code exec:} adapter's exit status), waiting a moment
     * for it; empty while it runs or where the link cannot tell.
     */
    default java.util.Optional<String> exited() {
        return java.util.Optional.empty();
    }

    /** Ends the session and removes everything it made; idempotent, never throws. */
    @Override
    void close();
}
