package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.adapter.SocketStreams;
import dev.stealtime.tck.runner.emulatedkvm.EmulatedMachine;
import dev.stealtime.tck.runner.emulatedkvm.Guest;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.VmSpec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One emulated machine whose own KVM runs the inner QEMU (native/guest/machine-init), one at a
 * time. On this side: the machine's request port and the inner QEMU's serial, QMP, competitor and
 * migration ports are Unix sockets in the machine's private directory; guest RAM is two files there, each an
 * {@code ivshmem-plain} device of the machine whose BAR the inner QEMU takes as guest RAM
 * ({@code /dev/tck-ram0}: RAM from 0; {@code /dev/tck-ram1}: the {@code pc-dimm} at 4 GiB), so
 * KVM's steal-time writes land in this host's page cache and the TCK reads them live.
 */
final class QemuMachine implements AutoCloseable {

    /** The inner QEMU's RAM from 0, and the one {@code pc-dimm} it can have. */
    static final long DIMM_BYTES = 64 * 1024;
    private static final String[] PORTS = {"serial", "qmp", "competitor", "migration"};
    private static final byte[] ZEROS = new byte[1 << 20];

    private final EmulatedMachine machine;
    private final Path dir;
    private final int number;
    private final SocketChannel ctl;
    private final OutputStream toAgent;
    private final BufferedReader fromAgent;
    private volatile boolean busy;

    private QemuMachine(EmulatedMachine machine, Path dir, int number, SocketChannel ctl) {
        this.machine = machine;
        this.dir = dir;
        this.number = number;
        this.ctl = ctl;
        this.toAgent = SocketStreams.output(ctl);
        this.fromAgent = new BufferedReader(new InputStreamReader(SocketStreams.input(ctl), StandardCharsets.US_ASCII));
    }

    /**
     * Boots machine {@code number} in {@code dir} (private, then owned by the machine) and connects
     * to its agent.
     *
     * @throws IllegalStateException with the console's tail when it does not come up
     */
    static QemuMachine boot(Guest guest, Guest.Accelerator accel, Path kernel, Path initrd, Path dir, int number,
                            java.util.function.Consumer<ProcessHandle> started) {
        List<String> extra = new ArrayList<>();
        for (String port : PORTS) {
            extra.addAll(List.of("-chardev", "socket,id=" + port + ",path=" + dir.resolve(port + ".sock") + ",server=on,wait=off",
                    "-device", "virtserialport,chardev=" + port + ",name=dev.stealtime." + port));
        }
        extra.addAll(List.of(
                "-object", "memory-backend-file,id=ram0,size=" + QemuCommand.RAM_BYTES + ",mem-path=" + dir.resolve("ram0") + ",share=on",
                "-device", "ivshmem-plain,memdev=ram0,addr=0x5",
                "-object", "memory-backend-file,id=ram1,size=" + DIMM_BYTES + ",mem-path=" + dir.resolve("ram1") + ",share=on",
                "-device", "ivshmem-plain,memdev=ram1,addr=0x6"));
        EmulatedMachine m = EmulatedMachine.boot(guest, accel, kernel, initrd, dir, extra, started);
        try {
            if (!m.moduleFailures().isEmpty()) {
                throw new IllegalStateException("KVM modules did not load in the emulated machine: " + String.join("; ", m.moduleFailures()));
            }
            String ivshmem = m.facts().getOrDefault("ivshmem", "0");
            if (!ivshmem.equals("2")) {
                throw new IllegalStateException("the emulated machine found " + ivshmem + " ivshmem devices, expected 2 (guest RAM shared with the TCK)");
            }
            return new QemuMachine(m, dir, number, connect(m.socket()));
        } catch (IOException | RuntimeException e) {
            m.stop();
            throw new IllegalStateException(e.getMessage() + "; console: " + m.consoleTail(), e);
        }
    }

    private static SocketChannel connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            return ch;
        } catch (IOException e) {
            ch.close();
            throw new IOException(socket + ": " + e.getMessage(), e);
        }
    }

    /** Whether the machine can still serve: QEMU runs and its request channel is open. */
    boolean usable() {
        return ctl.isOpen() && machine.alive();
    }

    /** Whether an inner QEMU runs here now. */
    boolean busy() {
        return busy;
    }

    /** What the machine said when it came up (kernel release, KVM, ...). */
    Map<String, String> facts() {
        return machine.facts();
    }

    long bootMillis() {
        return machine.bootMillis();
    }

    /**
     * Starts the inner QEMU with {@code args} (without the binary: the machine's {@code /usr/bin/qemu}
     * with its {@code -L} directory) for {@code spec}: RAM zeroed as a new VM's would be, the three
     * ports connected first (a port without a connection here drops what the machine writes).
     * {@code whenClosed} runs once the inner QEMU is closed (the machine is free again).
     */
    synchronized InnerQemu start(QemuCommand command, VmSpec spec, List<String> extra, String defect, Runnable whenClosed)
            throws IOException {
        if (busy) {
            throw new IllegalStateException("emulated machine " + number + " already runs a QEMU");
        }
        List<String> monitor = List.of("-chardev", "pipe,id=qmp,path=/dev/tck-qmp", "-mon", "chardev=qmp,mode=control");
        List<SharedRam.Backing> backings = new ArrayList<>();
        List<String> args = new ArrayList<>();
        String share = "";
        if (spec.architecture() == Architecture.ARM64) {
            // share.c maps /dev/tck-ram0 over QEMU's PV-time region (a memory slot of its own). Not the TCK's
            // window of RAM: it lies in the slot of all RAM, which the guest executes from and which must
            // keep KVM's dirty logging for QEMU's migration (KVM/arm64 has none for shared files)
            long window = QemuCommand.ARM64_LAYOUT_BASE;
            long windowBytes = GuestLayout.LOW.size();
            for (MemoryRegion r : spec.ram()) {
                if (r.gpa() < window || r.end() > window + windowBytes) {
                    throw new UnsupportedOperationException(String.format("arm64 under QEMU: the TCK's RAM is one window [0x%x, 0x%x); asked %s",
                            window, window + windowBytes, spec.ram()));
                }
            }
            backings.add(new SharedRam.Backing(QemuCommand.ARM64_PVTIME, QemuCommand.ARM64_PVTIME_BYTES, dir.resolve("ram0"), 0, true));
            share = String.format("0x%x:0x%x:/dev/tck-ram0:0", QemuCommand.ARM64_PVTIME, QemuCommand.ARM64_PVTIME_BYTES);
            args.addAll(command.arm64Args(spec, "/guest", monitor));
        } else {
            List<MemoryRegion> dimms = QemuCommand.dimms(spec);
            if (dimms.size() > 1 || (dimms.size() == 1 && dimms.get(0).size() != DIMM_BYTES)) {
                throw new UnsupportedOperationException("inside the emulated machine, RAM at 4 GiB is one region of " + DIMM_BYTES
                        + " bytes (one shared file); asked " + dimms);
            }
            backings.add(new SharedRam.Backing(0, QemuCommand.RAM_BYTES, dir.resolve("ram0")));
            List<String> ram = new ArrayList<>(List.of("/dev/tck-ram0"));
            for (MemoryRegion r : dimms) {
                backings.add(new SharedRam.Backing(r.gpa(), r.size(), dir.resolve("ram1")));
                ram.add("/dev/tck-ram1");
            }
            args.addAll(command.args(spec, "/guest", ram, monitor));
        }
        for (SharedRam.Backing b : backings) {
            zero(b);
        }
        args.addAll(extra);
        for (String a : args) {
            if (a.isEmpty() || a.chars().anyMatch(c -> c <= ' ' || c == '*' || c == '?' || c == '[')) {
                throw new IllegalArgumentException("an argument the emulated machine's agent cannot pass on: '" + a + "'");
            }
        }
        List<SocketChannel> ports = new ArrayList<>();
        try {
            for (String port : PORTS) {
                ports.add(connect(dir.resolve(port + ".sock")));
            }
            expectOk(ask("defect" + (defect != null ? " " + defect : "")));
            expectOk(ask("share" + (share.isEmpty() ? "" : " " + share)));
            String answer = ask("start " + String.join(" ", args));
            if (!answer.startsWith("ok ")) {
                throw new IOException("the emulated machine did not start QEMU: " + answer);
            }
            int pid = Integer.parseInt(answer.substring(3).trim());
            busy = true;
            SocketChannel comp = ports.get(2);
            Competitor competitor = new Competitor(SocketStreams.output(comp), SocketStreams.input(comp), () -> quietClose(comp));
            return new InnerQemu(this, pid, ports.get(0), ports.get(1), ports.get(3), competitor, List.copyOf(backings), whenClosed);
        } catch (IOException | RuntimeException e) {
            if (busy) {
                stopInner();
            }
            ports.forEach(QemuMachine::quietClose);
            throw e;
        }
    }

    /** Stops the inner QEMU and its competitor. */
    synchronized void stopInner() {
        try {
            ask("stop");
        } catch (IOException e) {
            // the machine is gone: nothing runs in it
        } finally {
            busy = false;
        }
    }

    /** One request to the machine's agent, one answer line. */
    synchronized String ask(String request) throws IOException {
        if (!ctl.isOpen()) {
            throw new IOException("emulated machine " + number + " is unusable: its request channel was closed (a call on it was "
                    + "interrupted or timed out)");
        }
        toAgent.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
        toAgent.flush();
        String a = fromAgent.readLine();
        if (a == null) {
            throw new IOException("emulated machine " + number + " closed its request port (QEMU alive: " + machine.alive()
                    + "); console: " + machine.consoleTail());
        }
        return a;
    }

    private void expectOk(String answer) throws IOException {
        if (!answer.equals("ok")) {
            throw new IOException("emulated machine " + number + ": " + answer);
        }
    }

    private static void zero(SharedRam.Backing b) throws IOException {
        try (FileChannel ch = FileChannel.open(b.file(), StandardOpenOption.WRITE)) {
            for (long off = 0; off < b.size(); off += ZEROS.length) {
                ByteBuffer z = ByteBuffer.wrap(ZEROS, 0, (int) Math.min(ZEROS.length, b.size() - off));
                while (z.hasRemaining()) {
                    ch.write(z, b.offset() + off + z.position());
                }
            }
        }
    }

    static void quietClose(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    int number() {
        return number;
    }

    /** Stops the machine (and whatever runs in it) and removes its directory. Idempotent. */
    @Override
    public void close() {
        quietClose(ctl);
        machine.stop();
    }
}
