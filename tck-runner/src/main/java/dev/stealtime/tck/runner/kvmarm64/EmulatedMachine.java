package dev.stealtime.tck.runner.kvmarm64;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One emulated arm64 machine: {@code qemu-system-aarch64 -M virt,virtualization=on} (so the guest
 * kernel runs at EL2 and offers {@code /dev/kvm}) booting the {@link MachineImage}, whose /init
 * starts the C adapter on a virtio-serial port. On the host that console is a Unix socket in this
 * machine's private (0700) directory; the serial console (kernel and adapter log) is kept as a
 * tail for fault messages. {@link #stop} kills QEMU and removes the directory.
 */
final class EmulatedMachine implements AutoCloseable {

    static final String QEMU = "qemu-system-aarch64";
    /** {@code pauth-impdef=on}: QEMU's cheaper pointer authentication, about 3x faster than plain {@code max}. */
    static final String CPU = "max,pauth-impdef=on";
    static final int CPUS = 2;
    static final int MEMORY_MIB = 1024;
    private static final long BOOT_TIMEOUT_SECONDS = 180;
    private static final int TAIL_LINES = 40;
    private static final Pattern READY = Pattern.compile("TCK-KVM-ARM64 READY kernel=(\\S+) cpu=(\\S*) mode=(.*)");

    private final Path dir;
    private final Process qemu;
    private final Deque<String> tail = new ArrayDeque<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile Map<String, String> readyFacts;

    private EmulatedMachine(Path dir, Process qemu) {
        this.dir = dir;
        this.qemu = qemu;
        Thread reader = new Thread(this::readConsole, "kvm-arm64 console");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Boots a machine in {@code dir} (a private directory this machine then owns) and waits until
     * the adapter listens.
     *
     * @throws IllegalStateException with the console's tail when it does not come up
     */
    static EmulatedMachine boot(MachineImage image, Path dir) {
        Path socket = dir.resolve("adapter.sock");
        List<String> command = qemuCommand(image.kernel(), image.initrd(), socket);
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + QEMU + ": " + e.getMessage(), e);
        }
        EmulatedMachine m = new EmulatedMachine(dir, p);
        try {
            if (!m.ready.await(BOOT_TIMEOUT_SECONDS, TimeUnit.SECONDS) || m.readyFacts == null) {
                String why = p.isAlive() ? "did not start the adapter within " + BOOT_TIMEOUT_SECONDS + " s"
                        : "exited with status " + p.exitValue();
                m.stop();
                throw new IllegalStateException("the emulated arm64 machine " + why + "; console: " + m.consoleTail());
            }
        } catch (InterruptedException e) {
            m.stop();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while booting the emulated arm64 machine", e);
        }
        if (!Files.exists(socket)) {
            m.stop();
            throw new IllegalStateException("QEMU did not create the socket " + socket);
        }
        return m;
    }

    /**
     * The QEMU command line of this machine booting {@code kernel} with {@code initrd}, its protocol
     * channel on the Unix socket {@code socket}. Also what a kernel replay's selftest boot runs, so
     * that the selftest sees the same machine as the suite.
     */
    static List<String> qemuCommand(Path kernel, Path initrd, Path socket) {
        return List.of(QEMU,
                "-M", "virt,virtualization=on,gic-version=3", "-cpu", CPU,
                "-smp", Integer.toString(CPUS), "-m", Integer.toString(MEMORY_MIB),
                "-nographic", "-no-reboot", "-nic", "none",
                "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", "console=ttyAMA0 rdinit=/init panic=-1 quiet",
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=tck,path=" + socket + ",server=on,wait=off",
                "-device", "virtserialport,chardev=tck,name=dev.stealtime.tck");
    }

    private void readConsole() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                line = line.replace("\r", "");
                synchronized (tail) {
                    tail.addLast(line.length() > 400 ? line.substring(0, 400) + "…" : line);
                    if (tail.size() > TAIL_LINES) {
                        tail.removeFirst();
                    }
                }
                Matcher m = READY.matcher(line);
                if (m.find()) {
                    readyFacts = Map.of("kernel", m.group(1), "midr-part", m.group(2), "kvm-mode", m.group(3).trim());
                    ready.countDown();
                }
            }
        } catch (IOException e) {
            // QEMU ended
        } finally {
            ready.countDown();
        }
    }

    /** The Unix socket of the adapter's protocol channel. */
    Path socket() {
        return dir.resolve("adapter.sock");
    }

    /** What the guest said when the adapter started: kernel release, MIDR part number, KVM mode. */
    Map<String, String> facts() {
        return readyFacts;
    }

    boolean alive() {
        return qemu.isAlive();
    }

    /** The QEMU process. */
    ProcessHandle process() {
        return qemu.toHandle();
    }

    /** The last lines of the serial console (kernel and adapter log). */
    String consoleTail() {
        synchronized (tail) {
            return String.join("\n", tail);
        }
    }

    /** Kills QEMU and removes the machine's directory. Idempotent, never throws. */
    void stop() {
        qemu.destroy();
        try {
            if (!qemu.waitFor(5, TimeUnit.SECONDS)) {
                qemu.destroyForcibly();
                qemu.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            qemu.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        deleteTree(dir);
    }

    /** Deletes {@code dir} and what is in it; quiet (a leftover is reported by the caller's checks). */
    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException | java.io.UncheckedIOException e) {
            // best effort
        }
    }

    @Override
    public void close() {
        stop();
    }

    /** {@code qemu-system-aarch64 --version}'s first line, or why not. */
    static String qemuVersion() {
        try {
            Process p = new ProcessBuilder(QEMU, "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return out.lines().findFirst().orElse("?").trim();
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }
}
