package dev.stealtime.tck.runner.adapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * {@code unix:PATH}: the adapter listens on a Unix-domain stream socket; one connection is one
 * session. Closing disconnects and deletes the shared directory.
 */
public final class UnixLink implements AdapterLink {

    private final Path socket;
    private final SocketChannel channel;
    private final Path shared;
    private final String sharedForAdapter;
    private final String origin;
    private final InputStream in;
    private final OutputStream out;
    private final java.util.function.Supplier<String> log;
    private final Runnable onClose;
    private boolean closed;

    /**
     * Connects.
     *
     * @param shared           the session's shared directory on the TCK's side (deleted on close)
     * @param sharedForAdapter the same directory as the adapter sees it
     * @param log              the adapter's log tail, or "" when it is not at hand
     * @param onClose          run after disconnecting (e.g. nothing, or stopping a container)
     */
    public UnixLink(Path socket, String origin, Path shared, String sharedForAdapter,
                    java.util.function.Supplier<String> log, Runnable onClose) {
        this.socket = socket;
        this.origin = origin;
        this.shared = shared;
        this.sharedForAdapter = sharedForAdapter;
        this.log = log;
        this.onClose = onClose;
        try {
            this.channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            LinkFiles.deleteTree(shared);
            throw new UncheckedIOException("cannot connect to the adapter's socket " + socket + ": " + e.getMessage(), e);
        }
        this.in = SocketStreams.input(channel);
        this.out = SocketStreams.output(channel);
    }

    /** A session with an adapter already listening on {@code socket} on this machine. */
    public static UnixLink connect(Path socket) {
        return new UnixLink(socket, "unix:" + socket, LinkFiles.sharedDir(), null, () -> "", () -> { });
    }

    @Override
    public InputStream input() {
        return in;
    }

    @Override
    public OutputStream output() {
        return out;
    }

    @Override
    public String origin() {
        return origin;
    }

    @Override
    public String logTail() {
        return log.get();
    }

    @Override
    public Path sharedDir() {
        return shared;
    }

    @Override
    public String sharedDirForAdapter() {
        return sharedForAdapter == null ? shared.toString() : sharedForAdapter;
    }

    /** Where the socket is. */
    public Path socket() {
        return socket;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            // closed either way
        }
        try {
            onClose.run();
        } finally {
            LinkFiles.deleteTree(shared);
        }
    }
}
