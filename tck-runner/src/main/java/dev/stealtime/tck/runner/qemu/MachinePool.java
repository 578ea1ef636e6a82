package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.runner.emulatedkvm.EmulatedMachine;
import dev.stealtime.tck.runner.emulatedkvm.Guest;
import dev.stealtime.tck.runner.host.Leftovers;
import dev.stealtime.tck.runner.host.NativeSources;
import dev.stealtime.tck.runner.host.PrivateFiles;
import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * QEMU inside emulated machines ({@link QemuMachine}): the way to a KVM that runs a whole guest on
 * hosts without {@code /dev/kvm}. The machine image (Debian's cloud kernel; an initramfs with the
 * inner QEMU, the test guest, the competitor and the agent) comes from {@code native/guest/machine.sh},
 * cached under {@code ~/.cache/stealtime-tck/qemu-ARCH}. A machine runs one QEMU at a time and is
 * kept for the next VM; a second VM open at once gets a second machine.
 */
final class MachinePool implements QemuLauncher {

    private static final long PREPARE_MINUTES = 20;

    private final Guest guest;
    private final QemuCommand command;
    /** A defect put into the inner QEMU (self-tests), or null. */
    private final String defect;
    private final Path work;
    private final Path kernel;
    private final Path initrd;
    private final List<QemuMachine> all = new ArrayList<>();
    private final Deque<QemuMachine> idle = new ArrayDeque<>();
    private Guest.Accelerator accel;
    /** QEMU processes of machines still booting: killed by {@link #close}, which may come first (a JVM shutting down). */
    private final java.util.Set<ProcessHandle> booting = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private String described;
    /** {@link #close}, run by the shutdown hook while the pool is being started (before the provider holds it). */
    private final Runnable atShutdown = this::close;

    private MachinePool(Guest guest, QemuCommand command, String defect, Path work, Path kernel, Path initrd) {
        this.guest = guest;
        this.command = command;
        this.defect = defect;
        this.work = work;
        this.kernel = kernel;
        this.initrd = initrd;
        this.accel = guest.accelerator();
    }

    /**
     * Prepares the machine image for {@code guest} (builds what changed; the first time also fetches
     * Debian's kernel) and boots a first machine.
     *
     * @param innerQemu another inner QEMU binary (x86-64: a vendor's build), or null for Debian's
     * @param defect    a defect for {@code native/qemu/defects.c} to put into the inner QEMU, or null
     */
    static MachinePool start(Guest guest, QemuCommand command, Path innerQemu, String defect) throws IOException {
        // registered at once: a run stopped (SIGTERM) while the first machine boots leaves neither
        // this directory nor that machine's QEMU behind (seen 2026-12-08: both stayed)
        Path work = Leftovers.create(() -> PrivateFiles.tempDir("tck-qemu-machines-"));
        try {
            Path src = work.resolve("src");
            for (String part : List.of("guest", "kvm", "qemu")) {
                NativeSources.extract("/native/" + part, src.resolve(part));
            }
            Path log = work.resolve("machine.log");
            ProcessBuilder pb = new ProcessBuilder("bash", src.resolve("guest/machine.sh").toString(), guest.arch,
                    NativeSources.cacheDir("qemu-" + guest.arch).toString())
                    .redirectError(log.toFile());
            if (innerQemu != null) {
                pb.environment().put("QEMU", innerQemu.toString());
            }
            Process p = Leftovers.track(pb.start());
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            boolean ended = p.waitFor(PREPARE_MINUTES, TimeUnit.MINUTES);
            Leftovers.untrack(p);
            if (!ended) {
                p.destroyForcibly();
                throw new IOException("machine.sh did not finish within " + PREPARE_MINUTES + " minutes");
            }
            if (p.exitValue() != 0) {
                List<String> lines = Files.readAllLines(log);
                throw new IOException("machine.sh failed (exit " + p.exitValue() + "): "
                        + String.join(" | ", lines.subList(Math.max(0, lines.size() - 6), lines.size())));
            }
            Path kernel = null;
            Path initrd = null;
            for (String line : out.split("\n")) {
                if (line.startsWith("kernel ")) {
                    kernel = Path.of(line.substring(7).trim());
                } else if (line.startsWith("initrd ")) {
                    initrd = Path.of(line.substring(7).trim());
                }
            }
            if (kernel == null || initrd == null) {
                throw new IOException("machine.sh named no kernel and initramfs: " + out.strip());
            }
            PrivateFiles.deleteTree(src);
            MachinePool pool = new MachinePool(guest, command, defect, work, kernel, initrd);
            Leftovers.onShutdown(pool.atShutdown);
            try {
                pool.release(pool.bootOne());
            } catch (RuntimeException e) {
                pool.close();
                throw e;
            }
            return pool;
        } catch (IOException | RuntimeException e) {
            PrivateFiles.deleteTree(work);
            Leftovers.untrack(work);
            throw e;
        } catch (InterruptedException e) {
            PrivateFiles.deleteTree(work);
            Leftovers.untrack(work);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while preparing the emulated machine", e);
        }
    }

    /** The machine released last comes first: a restore finds the state its save left in that machine. */
    @Override
    public QemuProcess launch(VmSpec spec, List<String> extra) throws IOException {
        QemuMachine m = take();
        try {
            return m.start(command, spec, extra, defect, () -> release(m));
        } catch (IOException | RuntimeException e) {
            release(m);
            throw e;
        }
    }

    /** An idle machine, or a new one. */
    private QemuMachine take() {
        while (true) {
            QemuMachine m;
            synchronized (all) {
                m = idle.pollFirst();
                if (m != null && !m.usable()) {
                    all.remove(m);        // a call on it was interrupted (its channel closed), or its QEMU died
                }
            }
            if (m == null) {
                return bootOne();
            }
            if (m.usable()) {
                return m;
            }
            m.close();
        }
    }

    private void release(QemuMachine m) {
        synchronized (all) {
            if (all.contains(m)) {
                idle.addFirst(m);
            }
        }
    }

    private QemuMachine bootOne() {
        int n;
        synchronized (all) {
            n = all.size() + 1;
        }
        Path dir = work.resolve("machine-" + System.nanoTime());
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        QemuMachine m;
        try {
            m = bootOne(dir, n);
        } catch (RuntimeException e) {
            if (!accel.fallsBack()) {
                throw e;
            }
            String failure = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            accel = accel.fallBack(guest, failure.replaceFirst("; console: .*", ""));
            m = bootOne(dir, n);
        }
        synchronized (all) {
            if (closed) {
                m.close();
                throw new IllegalStateException("the qemu provider is shutting down");
            }
            all.add(m);
        }
        described = "KVM inside an emulated " + guest.architecture + " machine (" + EmulatedMachine.qemuVersion(guest) + ", -accel "
                + accel.description() + "; kernel " + m.facts().getOrDefault("kernel", "?") + "; up in " + m.bootMillis() + " ms)";
        return m;
    }

    /**
     * Inside the emulated machine the competitor polls the vCPU thread's state far more slowly, and a
     * 1 ms halt ended before it was seen (X86-PREEMPTED-CLEARED's idle(1 ms): "did not block in the
     * guest's HLT within 10 s").
     */
    @Override
    public Duration shortestIdle() {
        return QemuProvider.EMULATED_TOLERANCE;
    }

    private QemuMachine bootOne(Path dir, int n) {
        if (closed) {
            throw new IllegalStateException("the qemu provider is shutting down");
        }
        ProcessHandle[] mine = new ProcessHandle[1];
        try {
            return QemuMachine.boot(guest, accel, kernel, initrd, dir, n, p -> {
                mine[0] = p;
                booting.add(p);
                if (closed) {
                    p.destroyForcibly();
                }
                onOneCpu(p);
            });
        } finally {
            if (mine[0] != null) {
                booting.remove(mine[0]);
            }
        }
    }

    /**
     * 40 ms: inside the emulated machine a 4.2 ms run of a vCPU that sleeps between requests ended
     * before the competitor saw its thread running ("did not run within 10 s (state S)", arm64,
     * vCPU 1, 2026-12-07); vCPU 0, which polls the console, was always seen.
     */
    @Override
    public Duration preemptMargin() {
        return QemuProvider.EMULATED_TOLERANCE.multipliedBy(2);
    }

    /** In the machine's own /tmp (its RAM), gone with the machine. */
    @Override
    public String snapshotPath() {
        return "/tmp/tck-snapshot";
    }

    @Override
    public void dropSnapshot() {
        // the next save overwrites it; the machine's RAM goes with the machine
    }

    /**
     * Pins the machine's QEMU, every thread of it, to the last online CPU ({@code taskset -a}; threads
     * it starts later inherit it). On a 2-CPU host with QEMU's threads spread over both CPUs, the
     * inner guest's halts went unseen and its idle answers missing (CI, 2026-12-07: 5 idle rules
     * failed, "did not block in the guest's HLT within 10 s (state R)", with multi-threaded TCG and
     * with thread=single alike); every run with the whole machine on one CPU passed. Best effort:
     * without taskset the machine runs unpinned.
     */
    private static void onOneCpu(ProcessHandle qemu) {
        int cpu = Runtime.getRuntime().availableProcessors() - 1;
        if (cpu <= 0) {
            return;
        }
        try {
            Process t = new ProcessBuilder("taskset", "-a", "-p", "-c", Integer.toString(cpu), Long.toString(qemu.pid()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            t.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (IOException e) {
            // no taskset: unpinned
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * From the source's machine to the destination's, as a network would carry it: each QEMU's
     * exec: command frames the stream onto its machine's migration port or takes it off (its host
     * side connected since the QEMU started), and a thread here copies what the source's machine
     * writes into the destination's.
     */
    @Override
    public MigrationChannel migrationChannel(QemuProcess source, QemuProcess destination) {
        if (!(source instanceof InnerQemu from) || !(destination instanceof InnerQemu to)) {
            throw new IllegalArgumentException("a live migration between emulated machines needs two inner QEMUs: " + source.name()
                    + ", " + destination.name());
        }
        Thread relay = new Thread(() -> {
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(1 << 16);
            try {
                while (from.migrationPort().read(buf) >= 0) {
                    buf.flip();
                    while (buf.hasRemaining()) {
                        to.migrationPort().write(buf);
                    }
                    buf.clear();
                }
            } catch (IOException e) {
                // closed when the migration ended (or either QEMU went away: its QMP says so)
            }
        }, "migration relay " + from.name() + " -> " + to.name());
        relay.setDaemon(true);
        relay.start();
        // framed (competitor --frame-out, --frame-in): the destination's command must end when the stream
        // does, or QEMU 7.2 never finishes the incoming migration (its monitor blocked: "did not answer
        // within 10 s" with every byte delivered; a plain cat there never ends). The ports' host sides are
        // connected since the QEMUs started, and nothing else opens them
        return new MigrationChannel() {
            @Override
            public String incoming() {
                return "exec:exec /bin/competitor --frame-in /dev/tck-migration";
            }

            @Override
            public String outgoing() {
                return "exec:exec /bin/competitor --frame-out /dev/tck-migration";
            }

            @Override
            public void close() {
                QemuMachine.quietClose(from.migrationPort());      // the source has gone (or failed): the relay's read ends
                try {
                    relay.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }

    @Override
    public String where() {
        return described != null ? described : "KVM inside an emulated " + guest.architecture + " machine";
    }

    @Override
    public void close() {
        closed = true;
        Leftovers.removeOnShutdown(atShutdown);
        booting.forEach(ProcessHandle::destroyForcibly);
        List<QemuMachine> machines;
        synchronized (all) {
            machines = new ArrayList<>(all);
            all.clear();
            idle.clear();
        }
        machines.forEach(QemuMachine::close);
        PrivateFiles.deleteTree(work);
        Leftovers.untrack(work);
    }
}
