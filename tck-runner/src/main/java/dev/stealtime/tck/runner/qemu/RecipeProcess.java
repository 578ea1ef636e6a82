package dev.stealtime.tck.runner.qemu;

import dev.stealtime.tck.spi.VmSpec;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.stream.Stream;

/**
 * A recipe's VMM ({@link Recipe}) on this host with its {@code /dev/kvm}: started from the recipe's
 * command, guest RAM the recipe's file (created here, 0600, the size of the recipe's memory), the
 * vCPU threads found by their names ({@code /proc/PID/task/TID/comm} against the recipe's
 * {@code vcpu_threads}). It has no monitor: no save and restore.
 */
final class RecipeProcess extends HostVmmProcess {

    private final Recipe recipe;

    private RecipeProcess(Recipe recipe, Path dir, Process vmm, Competitor competitor, List<SharedRam.Backing> backings) {
        super(recipe.command().get(0).replaceAll(".*/", ""), dir, vmm, competitor, backings);
        this.recipe = recipe;
    }

    /** Starts the recipe's VMM with the test guest {@code guest} for {@code spec}; on failure nothing is left running. */
    static RecipeProcess start(Recipe recipe, Path guest, Path competitorBinary, VmSpec spec) throws IOException {
        return starting("tck-vmm-", competitorBinary, (dir, competitor) -> {
            Path ram = recipe.ramFile(guest, spec.vcpus(), dir);
            long bytes = (long) recipe.memoryMib() << 20;
            if (!Files.exists(ram)) {
                Files.createFile(ram, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
            }
            try (RandomAccessFile f = new RandomAccessFile(ram.toFile(), "rw")) {
                f.setLength(bytes);
            }
            Process vmm = new ProcessBuilder(recipe.command(guest, spec.vcpus(), dir)).directory(dir.toFile())
                    .redirectError(dir.resolve(STDERR).toFile()).start();
            return new RecipeProcess(recipe, dir, vmm, competitor, List.of(new SharedRam.Backing(0, bytes, ram)));
        });
    }

    /** Every thread whose name the recipe's {@code vcpu_threads} matches, by its group 1, once as many as asked are there. */
    @Override
    public Map<Integer, Integer> vcpuThreads(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, Integer> found = new TreeMap<>();
        Map<Integer, String> names = new TreeMap<>();
        while (true) {
            found.clear();
            names.clear();
            try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(vmm.pid()), "task"))) {
                for (Path task : tasks.toList()) {
                    String comm;
                    try {
                        comm = Files.readString(task.resolve("comm")).strip();
                    } catch (IOException e) {
                        continue;       // the thread ended
                    }
                    int tid = Integer.parseInt(task.getFileName().toString());
                    names.put(tid, comm);
                    Matcher m = recipe.vcpuThreads().matcher(comm);
                    if (m.matches()) {
                        found.put(Integer.parseInt(m.group(1)), tid);
                    }
                }
            } catch (IOException | NumberFormatException e) {
                if (!vmm.isAlive()) {
                    throw new IOException(name() + " exited (status " + vmm.exitValue() + ") before its vCPU threads were found");
                }
                throw new IOException("listing the threads of " + name() + ": " + e.getMessage(), e);
            }
            if (!found.isEmpty() && found.keySet().equals(expected(found))) {
                return Map.copyOf(found);
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("no thread of " + name() + " is named as vcpu_threads '" + recipe.vcpuThreads().pattern()
                        + "' says, or not one per vCPU: found " + found + " among " + names.values());
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while looking for the vCPU threads of " + name());
            }
        }
    }

    /** Indices 0..n-1 for the highest found: the threads of every vCPU are there. */
    private static java.util.Set<Integer> expected(Map<Integer, Integer> found) {
        int max = found.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1);
        return java.util.stream.IntStream.rangeClosed(0, max).boxed().collect(java.util.stream.Collectors.toSet());
    }

    @Override
    public String qmp(String json, Duration timeout) throws IOException {
        throw new IOException("a recipe's VMM has no monitor the TCK speaks (" + recipe.source() + ")");
    }
}
