package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.HypervisorProvider;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
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
            while (server.isOpen()) {
                try {
                    SocketChannel ch = server.accept();
                    Thread t = new Thread(() -> {
                        try (ch) {
                            new AdapterServer(served, sampled, null).serve(in(ch), out(ch));
                        } catch (IOException e) {
                            // the session ended
                        }
                    }, "in-process-adapter-session");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
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

    static InputStream in(SocketChannel ch) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n;
                do {
                    n = ch.read(ByteBuffer.wrap(b, off, len));
                } while (n == 0);
                return n;
            }
        };
    }

    static OutputStream out(SocketChannel ch) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[]{(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            }
        };
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
