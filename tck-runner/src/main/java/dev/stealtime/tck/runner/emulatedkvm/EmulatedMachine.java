package dev.stealtime.tck.runner.emulatedkvm;

import dev.stealtime.tck.runner.host.PrivateFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One emulated machine of a {@link Guest}: QEMU with the virtualisation extensions (arm64:
 * {@code -M virt,virtualization=on}, so the guest kernel runs at EL2; x86: {@code -M q35 -cpu max},
 * whose TCG offers AMD SVM with nested paging, or the host's own with {@code -accel kvm -cpu host})
 * booting a kernel and an initramfs whose /init loads the KVM modules and starts the C adapter on
 * a virtio-serial port. On the host that port is a Unix socket in this machine's private (0700)
 * directory; the serial console (kernel, /init and adapter log) is kept as a tail for fault
 * messages. {@link #stop} kills QEMU and removes the directory.
 */
public final class EmulatedMachine implements AutoCloseable {

    public static final int CPUS = 2;
    static final int MEMORY_MIB = 1024;
    private static final long BOOT_TIMEOUT_SECONDS = 180;
    private static final int TAIL_LINES = 40;
    private static final Pattern READY = Pattern.compile("TCK-KVM READY (.*)");
    private static final Pattern MODULE_FAILED = Pattern.compile("TCK-KVM MODULE-FAILED (.*)");
    private static final Pattern FAILED = Pattern.compile("TCK-KVM FAILED: (.*)");
    /** Terminal control sequences (the firmware's screen resets) and other control characters. */
    private static final Pattern CONTROL = Pattern.compile("\u001b(\\[[0-9;?]*[ -/]*[@-~]|[@-Z\\\\-_c])|[\\x00-\\x08\\x0b-\\x1f\\x7f]");

    private final Path dir;
    private final Process qemu;
    private final Deque<String> tail = new ArrayDeque<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private final List<String> moduleFailures = new CopyOnWriteArrayList<>();
    private final List<String> failures = new CopyOnWriteArrayList<>();
    private volatile Map<String, String> readyFacts;
    private final long bootNanos;
    private volatile long readyNanos;

    private EmulatedMachine(Path dir, Process qemu, Guest guest) {
        this.dir = dir;
        this.qemu = qemu;
        this.bootNanos = System.nanoTime();
        Thread reader = new Thread(this::readConsole, guest.providerId + " console");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Boots a machine in {@code dir} (a private directory this machine then owns) and waits until
     * the adapter listens.
     *
     * @throws IllegalStateException with the console's tail when it does not come up
     */
    static EmulatedMachine boot(Guest guest, Guest.Accelerator accel, Path kernel, Path initrd, Path dir) {
        return boot(guest, accel, kernel, initrd, dir, List.of());
    }

    /**
     * The same with {@code extra} arguments for QEMU (more devices: the qemu provider's ports and
     * shared RAM). The machine's {@code /init} must print the same READY line.
     */
    public static EmulatedMachine boot(Guest guest, Guest.Accelerator accel, Path kernel, Path initrd, Path dir, List<String> extra) {
        return boot(guest, accel, kernel, initrd, dir, extra, p -> { });
    }

    /**
     * The same, handing QEMU's process to {@code started} as soon as it runs, before the guest is up
     * (a caller that may be stopped meanwhile, such as a JVM shutting down, can then kill it).
     */
    public static EmulatedMachine boot(Guest guest, Guest.Accelerator accel, Path kernel, Path initrd, Path dir, List<String> extra,
                                       java.util.function.Consumer<ProcessHandle> started) {
        Path socket = dir.resolve("adapter.sock");
        List<String> command = new ArrayList<>(qemuCommand(guest, accel, kernel, initrd, socket));
        command.addAll(extra);
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start " + guest.qemu + ": " + e.getMessage(), e);
        }
        started.accept(p.toHandle());
        EmulatedMachine m = new EmulatedMachine(dir, p, guest);
        String what = "the emulated " + guest.architecture + " machine";
        try {
            boolean signalled = m.ready.await(BOOT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (!signalled || m.readyFacts == null || !m.failures.isEmpty()) {
                String why;
                if (!m.failures.isEmpty()) {
                    why = what + " did not start the adapter: " + String.join("; ", m.failures);
                } else if (!signalled) {
                    why = what + " did not start the adapter within " + BOOT_TIMEOUT_SECONDS
                            + " s: QEMU kept running, but the guest never said the adapter was ready";
                } else {
                    why = m.exitReason(guest);     // the console ended: QEMU is gone
                }
                m.stop();
                throw new IllegalStateException(why + "; console: " + m.consoleTail());
            }
        } catch (InterruptedException e) {
            m.stop();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while booting " + what, e);
        }
        if (!Files.exists(socket)) {
            m.stop();
            throw new IllegalStateException("QEMU did not create the socket " + socket);
        }
        return m;
    }

    /**
     * Why QEMU ended before the guest was up: its exit status and its own error line (QEMU prints
     * {@code qemu-system-x86_64: ...} or {@code qemu: ...} on stderr, which shares the console's stream), or that it
     * printed none.
     */
    private String exitReason(Guest guest) throws InterruptedException {
        if (!qemu.waitFor(5, TimeUnit.SECONDS)) {
            return "the console of the emulated " + guest.architecture + " machine closed before the adapter started, but "
                    + guest.qemu + " is still running";
        }
        String error = null;
        synchronized (tail) {
            for (String line : tail) {
                if (line.startsWith(guest.qemu + ":") || line.startsWith("qemu: ")) {
                    error = line;
                }
            }
        }
        return guest.qemu + " exited with status " + qemu.exitValue() + " before the guest booted"
                + (error != null ? ": " + error : " (it printed no error of its own)");
    }

    /**
     * The QEMU command line of this machine booting {@code kernel} with {@code initrd}, its protocol
     * channel on the Unix socket {@code socket}. Also what a kernel replay's selftest boot runs
     * ({@link EmulatedSelftest}), so that the selftest sees the same machine as the suite.
     */
    static List<String> qemuCommand(Guest guest, Guest.Accelerator accel, Path kernel, Path initrd, Path socket) {
        List<String> command = new ArrayList<>(List.of(guest.qemu));
        command.addAll(guest.machine);
        command.addAll(List.of("-accel", accel.name(), "-cpu", accel.cpu(),
                "-smp", Integer.toString(CPUS), "-m", Integer.toString(MEMORY_MIB),
                "-nographic", "-no-reboot", "-nic", "none",
                "-kernel", kernel.toString(), "-initrd", initrd.toString(),
                "-append", guest.bootArgs + " rdinit=/init panic=-1 quiet",
                "-device", guest.virtioSerial,
                "-chardev", "socket,id=tck,path=" + socket + ",server=on,wait=off",
                "-device", "virtserialport,chardev=tck,name=dev.stealtime.tck"));
        return command;
    }

    private void readConsole() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(qemu.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                line = printable(line);
                synchronized (tail) {
                    tail.addLast(line.length() > 400 ? line.substring(0, 400) + "…" : line);
                    if (tail.size() > TAIL_LINES) {
                        tail.removeFirst();
                    }
                }
                Matcher f = MODULE_FAILED.matcher(line);
                if (f.find()) {
                    moduleFailures.add(f.group(1).trim());
                }
                Matcher nf = FAILED.matcher(line);
                if (nf.find()) {
                    failures.add(nf.group(1).trim());
                }
                Matcher m = READY.matcher(line);
                if (m.find()) {
                    readyFacts = facts(m.group(1));
                    readyNanos = System.nanoTime();
                    ready.countDown();
                }
            }
        } catch (IOException e) {
            // QEMU ended
        } finally {
            ready.countDown();
        }
    }

    /** A console line without terminal control sequences and control characters. */
    static String printable(String line) {
        return CONTROL.matcher(line).replaceAll("");
    }

    /** {@code k=v|k=v...} of the READY line, in order. */
    static Map<String, String> facts(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String kv : text.split("\\|")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                out.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /** The KVM modules /init could not load, each "name: insmod's message" (empty when all loaded). */
    public List<String> moduleFailures() {
        return List.copyOf(moduleFailures);
    }

    /** From starting QEMU to the adapter's READY line, in milliseconds. */
    public long bootMillis() {
        return (readyNanos - bootNanos) / 1_000_000;
    }

    /** The Unix socket of the adapter's protocol channel. */
    public Path socket() {
        return dir.resolve("adapter.sock");
    }

    /** What the guest said when the adapter started: kernel release, architecture, CPU, KVM, modules loaded. */
    public Map<String, String> facts() {
        return readyFacts;
    }

    public boolean alive() {
        return qemu.isAlive();
    }

    /** The QEMU process. */
    ProcessHandle process() {
        return qemu.toHandle();
    }

    /** The last lines of the serial console (kernel and adapter log). */
    public String consoleTail() {
        synchronized (tail) {
            return String.join("\n", tail);
        }
    }

    /** Kills QEMU and removes the machine's directory. Idempotent, never throws. */
    public void stop() {
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
        PrivateFiles.deleteTree(dir);
    }

    @Override
    public void close() {
        stop();
    }

    /** {@code qemu-system-* --version}'s first line, or why not. */
    public static String qemuVersion(Guest guest) {
        try {
            Process p = new ProcessBuilder(guest.qemu, "--version").redirectErrorStream(true).start();
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
