package dev.stealtime.tck.runner.adapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.function.Supplier;

/**
 * Streams over a connected Unix-domain {@link SocketChannel}, one for each direction, usable from two
 * threads at once ({@code Channels.newInputStream} and {@code newOutputStream} of one channel may
 * block each other), and the accept loop of a socket adapter.
 */
public final class SocketStreams {

    private SocketStreams() {
    }

    public static InputStream input(SocketChannel ch) {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                byte[] b = new byte[1];
                return read(b, 0, 1) < 0 ? -1 : b[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n;
                do {
                    n = ch.read(ByteBuffer.wrap(b, off, len));
                } while (n == 0);
                return n;
            }
        };
    }

    public static OutputStream output(SocketChannel ch) {
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

    /**
     * Accepts connections until {@code server} is closed and serves each, on its own daemon thread,
     * with a new server from {@code servers} (one session per connection).
     */
    public static void serveEach(ServerSocketChannel server, Supplier<AdapterServer> servers) throws IOException {
        while (true) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            }
            Thread t = new Thread(() -> {
                try (ch) {
                    servers.get().serve(input(ch), output(ch));
                } catch (IOException | RuntimeException e) {
                    System.err.println("tck serve: session ended: " + e);
                }
            }, "tck-serve-session");
            t.setDaemon(true);
            t.start();
        }
    }
}
