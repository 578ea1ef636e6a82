package dev.stealtime.tck.support;

import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The worker thread on which {@link ProviderGuard} makes a provider's calls, so that a call that
 * never returns can be left behind. One caller at a time (a vCPU is driven from one thread at a
 * time). Both sides spin briefly before they park: races drive a vCPU with many short calls, and a
 * parked hand-off on every call would cost them most of their updates (and the TCK its power to see
 * a torn write).
 */
final class CallLane {

    /** How long each side spins before parking. */
    private static final long SPIN_NANOS = 50_000;

    private static final int IDLE = 0;
    private static final int SUBMITTED = 1;
    private static final int DONE = 2;

    private final Thread worker;
    private volatile int state = IDLE;
    private volatile Callable<?> task;
    private volatile Object result;
    private volatile Throwable error;
    private volatile Thread caller;
    private volatile boolean closed;

    /** Thrown by {@link #call} with the provider's own exception as the cause. */
    static final class Failed extends Exception {
        Failed(Throwable cause) {
            super(cause);
        }
    }

    CallLane(String name) {
        worker = new Thread(this::loop, "tck-provider-call " + name);
        worker.setDaemon(true);
        worker.start();
    }

    Thread worker() {
        return worker;
    }

    private void loop() {
        while (true) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (state != SUBMITTED) {
                if (closed) {
                    return;
                }
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            Object r = null;
            Throwable t = null;
            try {
                r = task.call();
            } catch (Throwable x) {
                t = x;
            }
            Thread.interrupted();   // an interrupt meant for this call ends with it
            result = r;
            error = t;
            task = null;
            state = DONE;
            LockSupport.unpark(caller);
        }
    }

    /**
     * Runs {@code c} on the worker and returns its result; {@link Failed} carries what it threw.
     *
     * @throws TimeoutException when it has not returned after {@code nanos} (the lane is then unusable)
     */
    Object call(Callable<?> c, long nanos) throws Failed, TimeoutException, InterruptedException {
        if (closed) {
            throw new IllegalStateException("lane closed");
        }
        caller = Thread.currentThread();
        task = c;
        state = SUBMITTED;
        LockSupport.unpark(worker);
        long start = System.nanoTime();
        long deadline = start + nanos;
        long spinUntil = start + SPIN_NANOS;
        while (state != DONE) {
            long now = System.nanoTime();
            if (now - deadline >= 0) {
                throw new TimeoutException();
            }
            if (now < spinUntil) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, deadline - now);
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
        Object r = result;
        Throwable t = error;
        result = null;
        error = null;
        state = IDLE;
        if (t != null) {
            throw new Failed(t);
        }
        return r;
    }

    /** No more calls: the worker ends (when its current call, if any, returns). */
    void close() {
        closed = true;
        LockSupport.unpark(worker);
    }
}
