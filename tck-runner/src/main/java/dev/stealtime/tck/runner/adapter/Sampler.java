package dev.stealtime.tck.runner.adapter;

import dev.stealtime.tck.spi.GuestMemory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The reader threads of {@code tck serve}'s {@code memory.sample_start} ({@link AdapterServer}),
 * next to guest RAM: through the provider's own sampling when its RAM is sampled, else with single
 * acquire loads on its live view.
 */
final class Sampler {
    private static final VarHandle LONG = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    final long session;
    final int programLength;
    private final GuestMemory.Sampling delegate;
    private final Thread[] threads;
    private final GuestMemory.Recorded[] recorded;
    private volatile boolean stop;

    Sampler(long session, GuestMemory memory, int readers, List<GuestMemory.Load> program, int maxIterations) {
        this.session = session;
        this.programLength = program.size();
        if (memory.sharing() == GuestMemory.Sharing.SAMPLED) {
            delegate = memory.startSampling(readers, program, maxIterations);
            threads = null;
            recorded = null;
            return;
        }
        delegate = null;
        ByteBuffer[] views = new ByteBuffer[program.size()];
        boolean[] wide = new boolean[program.size()];
        for (int i = 0; i < views.length; i++) {
            GuestMemory.Load l = program.get(i);
            views[i] = memory.liveView(l.gpa(), l.width()).order(ByteOrder.LITTLE_ENDIAN);
            wide[i] = l.width() == 8;
        }
        threads = new Thread[readers];
        recorded = new GuestMemory.Recorded[readers];
        CountDownLatch started = new CountDownLatch(readers);
        int len = views.length;
        for (int r = 0; r < readers; r++) {
            int reader = r;
            threads[r] = new Thread(() -> {
                long[] vals = new long[len * 1024];
                long[] counts = new long[1024];
                long[] cur = new long[len];
                int n = 0;                          // records kept
                started.countDown();
                while (!stop && n < maxIterations) {
                    for (int i = 0; i < len; i++) {
                        cur[i] = wide[i] ? (long) LONG.getAcquire(views[i], 0)
                                : Integer.toUnsignedLong((int) INT.getAcquire(views[i], 0));
                    }
                    if (n > 0 && Arrays.equals(vals, (n - 1) * len, n * len, cur, 0, len)) {
                        counts[n - 1]++;            // the same values again: lossless run-length encoding
                        continue;
                    }
                    if (n == counts.length) {
                        counts = Arrays.copyOf(counts, n * 2);
                        vals = Arrays.copyOf(vals, n * 2 * len);
                    }
                    System.arraycopy(cur, 0, vals, n * len, len);
                    counts[n++] = 1;
                }
                recorded[reader] = new GuestMemory.Recorded(Arrays.copyOf(vals, n * len), Arrays.copyOf(counts, n));
            }, "tck-serve-sampler-" + r);
            threads[r].setDaemon(true);
            threads[r].start();
        }
        try {
            started.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    List<GuestMemory.Recorded> stop() {
        if (delegate != null) {
            return delegate.stop();
        }
        stop = true;
        List<GuestMemory.Recorded> out = new ArrayList<>();
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (GuestMemory.Recorded rec : recorded) {
            out.add(rec);
        }
        return out;
    }
}
