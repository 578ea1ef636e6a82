package dev.stealtime.tck.runner.kvm;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The one OS thread that owns a vCPU: it creates it and performs every ioctl on it, so KVM_RUN
 * always runs on the same task and that task's {@code run_delay} is the vCPU's. Work from other
 * threads is marshalled to it.
 */
final class VcpuThread {

    private final ExecutorService executor;

    VcpuThread(String name) {
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs {@code work} on the vCPU thread without waiting. */
    <T> Future<T> submit(Callable<T> work) {
        return executor.submit(work);
    }

    /** Runs {@code work} on the vCPU thread and waits for it; its exceptions are rethrown here. */
    <T> T call(Callable<T> work) {
        return await(submit(work));
    }

    /** Waits for work handed to {@link #submit}, rethrowing what it threw. */
    static <T> T await(Future<T> f) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the vCPU thread is mid-ioctl: let it finish rather than abandon it
                }
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Lets queued work finish, then ends the thread and waits for it. */
    void shutdown() {
        executor.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (executor.awaitTermination(10, TimeUnit.SECONDS)) {
                    break;
                }
                throw new IllegalStateException("vCPU thread did not stop within 10 s");
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
