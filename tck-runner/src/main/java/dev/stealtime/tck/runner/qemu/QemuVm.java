package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One QEMU process running the test guest: started in {@link #start}, stopped (killed) in
 * {@link #close}, with its private directory (0700: the RAM file, the QMP socket, QEMU's stderr)
 * removed. One request is in the guest at a time, so every call holds this VM's lock.
 */
final class QemuVm implements Vm {

    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);
    private static final Pattern HELLO = Pattern.compile("^ok tck-guest version=1 arch=x86_64 vcpus=(\\d+) .* free=0x([0-9a-f]+)-0x([0-9a-f]+)$");

    private final VmSpec spec;
    private final Path dir;
    private final Process qemu;
    private final GuestConsole console;
    private final Competitor competitor;
    private final List<QemuVcpu> vcpus = new ArrayList<>();
    private SharedRam memory;
    private volatile boolean closed;

    private QemuVm(VmSpec spec, Path dir, Process qemu, Competitor competitor) {
        this.spec = spec;
        this.dir = dir;
        this.qemu = qemu;
        this.competitor = competitor;
        this.console = new GuestConsole(qemu.getInputStream(), qemu.getOutputStream(), "qemu " + qemu.pid());
    }

    /** Starts QEMU with the test guest for {@code spec}; on any failure nothing is left running. */
    static QemuVm start(QemuCommand command, Path competitorBinary, VmSpec spec) throws IOException {
        Path dir = PrivateFiles.tempDir(QemuCommand.scratchParent(), "tck-qemu-");
        Competitor competitor = null;
        Process qemu = null;
        QemuVm vm = null;
        try {
            competitor = new Competitor(competitorBinary);
            qemu = new ProcessBuilder(command.args(dir, spec))
                    .redirectError(dir.resolve("qemu.err").toFile())
                    .start();
            vm = new QemuVm(spec, dir, qemu, competitor);
            vm.boot(command.backings(dir, spec));
            return vm;
        } catch (IOException | RuntimeException e) {
            String err = vm != null ? vm.qemuStderr() : "";
            if (vm != null) {
                vm.close();
            } else {
                if (qemu != null) {
                    qemu.destroyForcibly();
                }
                if (competitor != null) {
                    competitor.close();
                }
                PrivateFiles.deleteTree(dir);
            }
            throw new IOException(e.getMessage() + (err.isEmpty() ? "" : " (QEMU said: " + err + ")"), e);
        }
    }

    private void boot(List<SharedRam.Backing> backings) throws IOException {
        console.awaitReady(BOOT_TIMEOUT);
        String hello = console.ask("hello", ANSWER_TIMEOUT);
        Matcher m = HELLO.matcher(hello);
        if (!m.matches()) {
            throw new IOException("test guest: expected 'ok tck-guest version=1 arch=x86_64 vcpus=N ... free=A-B', seen '" + hello + "'");
        }
        int seen = Integer.parseInt(m.group(1));
        if (seen != spec.vcpus()) {
            throw new IOException("test guest: expected " + spec.vcpus() + " vCPUs (-smp), the guest brought up " + seen);
        }
        long freeStart = Long.parseUnsignedLong(m.group(2), 16);
        long freeEnd = Long.parseUnsignedLong(m.group(3), 16);
        for (MemoryRegion r : spec.ram()) {
            if (r.gpa() >= QemuCommand.FOUR_GIB) {
                continue;             // a pc-dimm of its own, which the guest never touches
            }
            if (r.gpa() < freeStart || r.end() > freeEnd) {
                throw new IOException(String.format("the TCK's window %s is not inside the guest's free RAM [0x%x, 0x%x) (hello: %s)",
                        r, freeStart, freeEnd, hello));
            }
        }
        Map<Integer, Integer> threads = Qmp.vcpuThreads(dir.resolve("qmp"), BOOT_TIMEOUT);
        int cpus = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < spec.vcpus(); i++) {
            Integer tid = threads.get(i);
            if (tid == null) {
                throw new IOException("QMP query-cpus-fast: expected cpu-index " + i + ", seen " + threads);
            }
            int cpu = i % cpus;
            competitor.pin(tid, cpu);
            vcpus.add(new QemuVcpu(this, i, tid, cpu));
        }
        memory = new SharedRam(backings, spec);
    }

    long qemuPid() {
        return qemu.pid();
    }

    /** Sends {@code @index request} and returns the answer; {@code d} is how long the guest works on it. */
    synchronized String ask(int index, String request, Duration d) {
        checkOpen();
        String req = "@" + index + " " + request;
        try {
            return console.ask(req, timeout(d));
        } catch (IOException e) {
            throw failure(req, e);
        }
    }

    /** The guest busy on {@code guestRequest} while the competitor holds the vCPU thread's CPU for {@code hold}. */
    synchronized void preempt(QemuVcpu v, String guestRequest, Duration hold) {
        checkOpen();
        try {
            console.send(guestRequest);
            competitor.startPreempt(v.tid(), v.cpu(), hold);
            competitor.awaitDone();
            expectElapsed(guestRequest, console.answer(guestRequest, timeout(hold.multipliedBy(2))));
        } catch (IOException e) {
            throw failure(guestRequest, e);
        }
    }

    /** The guest idles on {@code guestRequest} while the competitor holds the vCPU thread's CPU for {@code hold}. */
    synchronized void idle(QemuVcpu v, String guestRequest, Duration hold) {
        checkOpen();
        try {
            competitor.armIdle(v.tid(), v.cpu(), hold);
            console.send(guestRequest);
            competitor.awaitDone();
            expectElapsed(guestRequest, console.answer(guestRequest, timeout(hold.multipliedBy(2))));
        } catch (IOException e) {
            throw failure(guestRequest, e);
        }
    }

    private static void expectElapsed(String request, String answer) throws IOException {
        if (!answer.startsWith("ok elapsed=")) {
            throw new IOException("expected 'ok elapsed=NS...', seen '" + answer + "'");
        }
    }

    private static Duration timeout(Duration d) {
        return ANSWER_TIMEOUT.plus(d.multipliedBy(2));
    }

    private IllegalStateException failure(String request, IOException e) {
        String err = qemuStderr();
        return new IllegalStateException("QEMU " + qemu.pid() + ", request '" + request + "': " + e.getMessage()
                + (err.isEmpty() ? "" : " (QEMU said: " + err + ")"), e);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the VM is closed (QEMU stopped)");
        }
    }

    /** The last 400 characters QEMU wrote to stderr, on one line. */
    String qemuStderr() {
        try {
            Path f = dir.resolve("qemu.err");
            if (!Files.exists(f)) {
                return "";
            }
            String s = Files.readString(f).strip().replace('\n', ' ');
            return s.substring(Math.max(0, s.length() - 400));
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    @Override
    public VmSpec spec() {
        return spec;
    }

    @Override
    public GuestMemory memory() {
        checkOpen();
        return memory;
    }

    @Override
    public List<QemuVcpu> vcpus() {
        return List.copyOf(vcpus);
    }

    /** Kills QEMU and the competitor, and removes the private directory. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (memory != null) {
            memory.close();
        }
        qemu.destroy();
        try {
            if (!qemu.waitFor(3, TimeUnit.SECONDS)) {
                qemu.destroyForcibly().waitFor(3, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            qemu.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        competitor.close();
        PrivateFiles.deleteTree(dir);
        QemuProvider.forget(this);
    }
}
