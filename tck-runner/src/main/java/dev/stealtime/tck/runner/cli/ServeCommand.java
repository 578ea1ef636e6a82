package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.runner.adapter.AdapterServer;
import dev.stealtime.tck.runner.adapter.SocketStreams;
import dev.stealtime.tck.runner.exit.ExitCodes;
import dev.stealtime.tck.runner.exit.UsageException;
import dev.stealtime.tck.runner.providers.ProviderSources;
import dev.stealtime.tck.spi.HypervisorProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

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
import java.nio.channels.ServerSocketChannel;
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
public final class ServeCommand implements Callable<Integer> {

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
        HypervisorProvider p = new ProviderSources(jars).resolve(provider).provider();
        AdapterServer.Fault f = fault == null ? null : AdapterServer.Fault.parse(fault);
        boolean sampled = memory.equals("sampled");
        if (transport.stdio) {
            OutputStream out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16);
            InputStream in = new FileInputStream(FileDescriptor.in);
            System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.err), true)); // stdout is the protocol's
            new AdapterServer(p, sampled, f).serve(in, out);
            return ExitCodes.CONFORMS;
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
        SocketStreams.serveEach(server, () -> new AdapterServer(p, sampled, f));
        return ExitCodes.CONFORMS;              // stopped (SIGTERM): the shutdown hook closed the socket
    }
}
