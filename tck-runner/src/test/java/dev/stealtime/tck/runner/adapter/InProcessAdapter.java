package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.HypervisorProvider;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Serves a provider with {@link AdapterServer} on a Unix-domain socket in a private temporary
 * directory, from threads of this JVM, and hands out an {@link AdapterProvider} connected to it:
 * the whole protocol path (encoding, socket, shared RAM file or sampling) without a process.
 */
final class InProcessAdapter implements AutoCloseable {

    private final Path dir;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    final AdapterProvider provider;

    InProcessAdapter(HypervisorProvider served, boolean sampled) {
        try {
            dir = LinkFiles.sharedDir();
            socket = dir.resolve("adapter.sock");
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        acceptor = new Thread(() -> {
            try {
                SocketStreams.serveEach(server, () -> new AdapterServer(served, sampled, null));
            } catch (IOException e) {
                // the server socket failed: connections will fail and say so
            }
        }, "in-process-adapter");
        acceptor.setDaemon(true);
        acceptor.start();
        try {
            provider = new AdapterProvider(() -> UnixLink.connect(socket), Duration.ofSeconds(30));
        } catch (RuntimeException e) {
            stopServer();
            throw e;
        }
    }

    @Override
    public void close() {
        provider.close();
        stopServer();
    }

    private void stopServer() {
        try {
            server.close();
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            // best effort
        }
        LinkFiles.deleteTree(dir);
    }
}
