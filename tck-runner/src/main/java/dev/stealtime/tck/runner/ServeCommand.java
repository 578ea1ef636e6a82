package dev.stealtime.tck.runner;

import dev.stealtime.tck.runner.adapter.AdapterServer;
import dev.stealtime.tck.spi.HypervisorProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code tck serve}: an in-process provider as an adapter (docs/adapter-protocol.md). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve an in-process provider over the adapter protocol (docs/adapter-protocol.md):",
                "the protocol's test double and an example adapter. With --stdio one session on stdin/stdout",
                "(logs on stderr); with --socket one session per connection until stopped (SIGTERM/Ctrl-C),",
                "the socket file removed at exit. Guest RAM is a file in the shared directory the TCK names."},
        footer = {"", "Examples:",
                "  tck run --provider exec:\"./tck serve --provider reference --stdio\"",
                "  tck serve --provider kvm --socket /tmp/kvm.sock &  tck run --provider unix:/tmp/kvm.sock --suite x86"})
final class ServeCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--provider", paramLabel = "ID", required = true, description = "The in-process provider to serve (see 'tck providers').")
    String provider;

    @Option(names = "--provider-jar", paramLabel = "JAR", description = "Jar with a vendor HypervisorProvider (repeatable).")
    List<Path> jars = new ArrayList<>();

    @CommandLine.ArgGroup(multiplicity = "1")
    Transport transport;

    static final class Transport {
        @Option(names = "--stdio", required = true, description = "Serve one session on stdin/stdout.")
        boolean stdio;

        @Option(names = "--socket", paramLabel = "PATH", required = true, description = "Listen on a Unix-domain socket (created 0600; must not exist).")
        Path socket;
    }

    @Option(names = "--memory", paramLabel = "shared|sampled", defaultValue = "shared",
            description = "How the TCK sees guest RAM: a shared file (default) or the sampling calls, as an adapter whose RAM is in an emulator.")
    String memory;

    @Option(names = "--fault", paramLabel = "KIND@N", hidden = true,
            description = "Play a fault after N requests: exit@N, hang@N, garbage@N (tests of the TCK's fault handling).")
    String fault;

    @Override
    public Integer call() throws IOException {
        if (!memory.equals("shared") && !memory.equals("sampled")) {
            throw new UsageException("--memory is shared or sampled, not '" + memory + "'");
        }
        if (provider.contains(":")) {
            throw new UsageException("tck serve serves an in-process provider, not the adapter '" + provider + "'");
        }
        HypervisorProvider p = new ProviderLoader(jars).byId(provider);
        AdapterServer.Fault f = fault == null ? null : AdapterServer.Fault.parse(fault);
        boolean sampled = memory.equals("sampled");
        if (transport.stdio) {
            OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
            InputStream in = new FileInputStream(FileDescriptor.in);
            System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true)); // stdout is the protocol's
            new AdapterServer(p, sampled, f).serve(in, out);
            return TckCli.CONFORMS;
        }
        return listen(p, sampled, f, transport.socket);
    }

    private int listen(HypervisorProvider p, boolean sampled, AdapterServer.Fault f, Path socket) throws IOException {
        if (Files.exists(socket)) {
            throw new UsageException("--socket " + socket + " already exists");
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.close();
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                // exiting anyway
            }
        }));
        System.err.println("tck serve: " + p.id() + " on unix:" + socket.toAbsolutePath());
        while (true) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (java.nio.channels.ClosedChannelException e) {
                return TckCli.CONFORMS;         // stopped (SIGTERM): the shutdown hook closed the socket
            }
            Thread t = new Thread(() -> {
                try (ch) {
                    new AdapterServer(p, sampled, f).serve(Channels.newInputStream(new Reading(ch)), new Writing(ch));
                } catch (IOException | RuntimeException e) {
                    System.err.println("tck serve: session ended: " + e);
                }
            }, "tck-serve-session");
            t.setDaemon(true);
            t.start();
        }
    }

    /** The channel's reading side alone (a stream over the whole channel would block writes). */
    private record Reading(SocketChannel ch) implements java.nio.channels.ReadableByteChannel {
        @Override
        public int read(ByteBuffer dst) throws IOException {
            return ch.read(dst);
        }

        @Override
        public boolean isOpen() {
            return ch.isOpen();
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    private static final class Writing extends OutputStream {
        private final SocketChannel ch;

        Writing(SocketChannel ch) {
            this.ch = ch;
        }

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
    }
}
