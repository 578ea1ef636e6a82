package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The decorator of the SPI through which every suite talks to a provider, under {@code tck run} and
 * under a vendor's plain surefire build alike ({@link TckContext} installs it). It does two things:
 * <ul>
 *   <li><b>Vendor errors are the vendor's.</b> An exception from any SPI method becomes a
 *       {@link ProviderException} naming the provider and the call, with the vendor's message and the
 *       first frames of its stack trace. Exceptions the SPI documents as answers pass unchanged
 *       ({@code IndexOutOfBoundsException} from {@link GuestMemory}, {@code UnsupportedOperationException}
 *       from {@code open}, {@code IllegalStateException} from {@code hostGetMsr}).
 *       {@code availability()} that throws or returns null is "unavailable" with that reason.</li>
 *   <li><b>Bounded time.</b> Every call that makes the hypervisor work (availability, open, close,
 *       the vCPU's run/preempt/idle, guest and host MSR and attribute calls, SMCCC)
 *       runs on a worker thread (one per vCPU, so a vCPU is still driven from one thread at a time)
 *       and must return within {@code tck.call.timeout} × {@code tck.timing.multiplier}, plus the
 *       duration the call itself asks for. Otherwise the test fails with "provider call X did not return
 *       within T", the stuck thread's frames in the message and a full thread dump attached; the VM
 *       is abandoned (later calls on it fail at once, the next test opens a fresh VM). After
 *       {@value #GIVE_UP_AFTER} timeouts in a row of one call (say {@code Vcpu.run}) the provider is
 *       not called again in this run.</li>
 * </ul>
 * Memory reads and writes, the live view, the host's steal measure and the declarations (id,
 * architectures, ...) are called directly (exceptions still translated): they must be cheap, and
 * races call them at full speed.
 */
public final class ProviderGuard {

    /** Consecutive timed-out calls after which the provider is given up for the run. */
    public static final int GIVE_UP_AFTER = 3;

    private static final Set<String> TIMED = Set.of("availability", "open", "close", "run", "preempt", "idle",
            "guestWrmsr", "guestRdmsr", "hostSetMsr", "hostGetMsr", "cpuid", "hasDeviceAttr", "setDeviceAttr",
            "getDeviceAttr", "smccc");

    private final HypervisorProvider target;
    private final String id;
    private final Duration limit;
    private final String limitOrigin;
    /** Per call name, how many of its calls in a row did not return (a call that returns resets its count). */
    private final Map<String, AtomicInteger> consecutiveTimeouts = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String givenUp;

    private ProviderGuard(HypervisorProvider target, Duration limit, String limitOrigin) {
        this.target = target;
        String i;
        try {
            i = target.id();
        } catch (RuntimeException e) {
            i = target.getClass().getName();
        }
        this.id = i == null ? target.getClass().getName() : i;
        this.limit = limit;
        this.limitOrigin = limitOrigin;
    }

    /** The provider behind a guard, or the provider itself when it is not guarded. */
    public static HypervisorProvider unwrap(HypervisorProvider p) {
        if (Proxy.isProxyClass(p.getClass()) && Proxy.getInvocationHandler(p) instanceof Handler h) {
            return h.guard().target;
        }
        return p;
    }

    public static boolean isGuarded(HypervisorProvider p) {
        return Proxy.isProxyClass(p.getClass()) && Proxy.getInvocationHandler(p) instanceof Handler;
    }

    /** Wraps {@code provider} (once: a guarded provider is returned as it is). */
    public static HypervisorProvider wrap(HypervisorProvider provider, TckConfig config) {
        if (isGuarded(provider)) {
            return provider;
        }
        Duration base = config.callTimeout();
        double m = config.timingMultiplier();
        Duration limit = Duration.ofNanos(Math.round(base.toNanos() * m));
        String origin = TckConfig.Key.CALL_TIMEOUT.property + " " + TckConfig.format(base)
                + (m == 1 ? "" : " × timing multiplier " + m);
        ProviderGuard g = new ProviderGuard(provider, limit, origin);
        return (HypervisorProvider) g.proxy(provider, null);
    }

    private Object proxy(Object target, Lanes lanes) {
        Class<?>[] ifaces = spiInterfaces(target.getClass());
        return Proxy.newProxyInstance(HypervisorProvider.class.getClassLoader(), ifaces, new Handler(this, target, lanes));
    }

    private static Class<?>[] spiInterfaces(Class<?> type) {
        Set<Class<?>> out = new LinkedHashSet<>();
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            collect(c, out);
        }
        return out.toArray(Class<?>[]::new);
    }

    private static void collect(Class<?> c, Set<Class<?>> out) {
        for (Class<?> i : c.getInterfaces()) {
            if (i.getPackageName().equals(HypervisorProvider.class.getPackageName())) {
                out.add(i);
            }
            collect(i, out);
        }
    }

    /** The worker threads of one VM: one per vCPU (by index), one for the VM itself; abandoned on a timeout. */
    private static final class Lanes {
        final String owner;
        final Map<Object, ExecutorService> byTarget = new IdentityHashMap<>();
        final Map<Object, Object> proxies = new IdentityHashMap<>();
        volatile String abandoned;

        Lanes(String owner) {
            this.owner = owner;
        }

        synchronized ExecutorService lane(Object target, String name) {
            return byTarget.computeIfAbsent(target, t -> Executors.newSingleThreadExecutor(r -> {
                Thread th = new Thread(r, "tck-provider-call " + name);
                th.setDaemon(true);
                return th;
            }));
        }

        synchronized void shutdown() {
            byTarget.values().forEach(ExecutorService::shutdown);
        }
    }

    private record Handler(ProviderGuard guard, Object target, Lanes lanes) implements InvocationHandler {

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            if (method.getDeclaringClass() == Object.class) {
                return switch (name) {
                    case "equals" -> proxy == args[0];
                    case "hashCode" -> System.identityHashCode(proxy);
                    default -> "guarded " + target;
                };
            }
            if (target instanceof HypervisorProvider && name.equals("id")) {
                return guard.id;
            }
            if (method.isDefault() && !(target instanceof HypervisorProvider)) {
                // e.g. Vm.vcpu(i): goes through vcpus() of the proxy, so the result is guarded too
                return InvocationHandler.invokeDefault(proxy, method, args);
            }
            String call = describe(method, args);
            if (target instanceof HypervisorProvider && name.equals("availability")) {
                // "must not throw": one that does, hangs or answers null is unavailable, in its own words
                try {
                    Object a = guard.timed(this, method, args, call);
                    return a == null ? Availability.no("availability() returned null") : a;
                } catch (ProviderTimeoutException e) {
                    if (!e.attempted()) {
                        throw e;   // given up earlier: the tests fail, they do not become NOT APPLICABLE
                    }
                    return Availability.no(firstLine(e.getMessage()));
                } catch (ProviderException e) {
                    return Availability.no("availability() threw " + ProviderException.vendorMessage(e.getCause() == null ? e : e.getCause()));
                }
            }
            Object result;
            if (TIMED.contains(name)) {
                result = guard.timed(this, method, args, call);
            } else {
                result = guard.direct(target, method, args, call);
            }
            return guard.wrapResult(this, result);
        }

        String describe(Method method, Object[] args) {
            String kind = target instanceof HypervisorProvider ? "HypervisorProvider"
                    : target instanceof Vm ? "Vm" : target instanceof Vcpu v ? vcpuName(v) : target instanceof GuestMemory ? "GuestMemory"
                    : target.getClass().getSimpleName();
            return kind + "." + method.getName() + "(" + (args == null ? "" : Arrays.stream(args).map(Handler::arg)
                    .collect(Collectors.joining(", "))) + ")";
        }

        private static String vcpuName(Vcpu v) {
            try {
                return "Vcpu[" + v.index() + "]";
            } catch (RuntimeException e) {
                return "Vcpu";
            }
        }

        private static String arg(Object a) {
            if (a instanceof Integer i) {
                return i > 9 || i < 0 ? "0x" + Integer.toHexString(i) : String.valueOf(i);
            }
            if (a instanceof Long l) {
                return l > 9 || l < 0 ? "0x" + Long.toHexString(l) : String.valueOf(l);
            }
            if (a instanceof Duration d) {
                return TckConfig.format(d);
            }
            if (a instanceof long[] ls) {
                return Arrays.stream(ls).mapToObj(l -> "0x" + Long.toHexString(l)).collect(Collectors.joining(", "));
            }
            if (a instanceof byte[] b) {
                return b.length + " bytes";
            }
            return String.valueOf(a);
        }
    }

    private Object direct(Object target, Method method, Object[] args, String call) {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw translate(target, method, call, e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot call " + call + ": " + e.getMessage(), e);
        }
    }

    private RuntimeException translate(Object target, Method method, String call, Throwable vendor) {
        if (documented(target, method, vendor)) {
            return (RuntimeException) vendor;
        }
        if (vendor instanceof ProviderException pe) {
            return pe;
        }
        if (vendor instanceof VirtualMachineError vme) {
            throw vme;
        }
        return ProviderException.thrownBy(id, call, vendor);
    }

    /** Exceptions the SPI documents as the answer of a call: they reach the test unchanged. */
    private static boolean documented(Object target, Method method, Throwable t) {
        return (target instanceof GuestMemory && t instanceof IndexOutOfBoundsException)
                || (method.getName().equals("open") && t instanceof UnsupportedOperationException)
                || (method.getName().equals("hostGetMsr") && t instanceof IllegalStateException);
    }

    private Object timed(Handler h, Method method, Object[] args, String call) {
        if (h.lanes() != null && h.lanes().abandoned != null) {
            throw new ProviderTimeoutException("provider call " + call + " not made: this VM was abandoned after "
                    + h.lanes().abandoned, false);
        }
        if (givenUp != null) {
            throw new ProviderTimeoutException("provider call " + call + " not made: provider '" + id + "' was given up after "
                    + GIVE_UP_AFTER + " calls in a row did not return (last: " + givenUp + ")", false);
        }
        Duration own = args == null ? Duration.ZERO : Arrays.stream(args).filter(a -> a instanceof Duration)
                .map(a -> (Duration) a).findFirst().orElse(Duration.ZERO);
        Duration allowed = limit.plus(own);
        boolean closing = method.getName().equals("close");
        ExecutorService lane = h.lanes() == null
                ? Executors.newSingleThreadExecutor(r -> daemon(r, "tck-provider-call " + call))
                : h.lanes().lane(h.target(), call.substring(0, call.indexOf('.')));
        java.util.concurrent.atomic.AtomicReference<Thread> running = new java.util.concurrent.atomic.AtomicReference<>();
        Future<Object> f = lane.submit(() -> {
            running.set(Thread.currentThread());
            try {
                return method.invoke(h.target(), args);
            } finally {
                running.set(null);
            }
        });
        try {
            Object r = f.get(allowed.toNanos(), TimeUnit.NANOSECONDS);
            timeouts(method).set(0);
            return r;
        } catch (ExecutionException e) {
            timeouts(method).set(0);
            Throwable cause = e.getCause() instanceof InvocationTargetException ite ? ite.getCause() : e.getCause();
            throw translate(h.target(), method, call, cause);
        } catch (TimeoutException e) {
            Thread stuck = running.get();
            String what = "provider call " + call + " did not return within " + TckConfig.format(allowed)
                    + " (" + limitOrigin + (own.isZero() ? "" : " + the call's own " + TckConfig.format(own)) + ")";
            if (h.lanes() != null) {
                h.lanes().abandoned = what;
            }
            if (timeouts(method).incrementAndGet() >= GIVE_UP_AFTER) {
                givenUp = what;
            }
            StackTraceElement[] frames = stuck == null ? new StackTraceElement[0] : stuck.getStackTrace();
            String dump = threadDump(stuck);
            Evidence.text("thread dump: " + call + " did not return", dump);
            f.cancel(true);   // an interrupt, in case the provider listens
            throw new ProviderTimeoutException(what + "; the VM is abandoned and the next test opens a fresh one. "
                    + "Stuck thread" + (stuck == null ? " (finished meanwhile)" : " '" + stuck.getName() + "'") + ":\n"
                    + ProviderException.frames(frames, 8), true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new ProviderException("interrupted while waiting for provider call " + call, e);
        } catch (CancellationException e) {
            throw new ProviderException("provider call " + call + " was cancelled", e);
        } finally {
            if (h.lanes() == null) {
                lane.shutdown();
            } else if (closing) {
                h.lanes().shutdown();
            }
        }
    }

    static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private AtomicInteger timeouts(Method m) {
        return consecutiveTimeouts.computeIfAbsent(m.getDeclaringClass().getSimpleName() + "." + m.getName(), k -> new AtomicInteger());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The stuck thread first, then every other thread of the JVM. */
    static String threadDump(Thread stuck) {
        StringBuilder sb = new StringBuilder();
        if (stuck != null) {
            sb.append("stuck: \"").append(stuck.getName()).append("\" ").append(stuck.getState()).append('\n');
            for (StackTraceElement f : stuck.getStackTrace()) {
                sb.append("    at ").append(f).append('\n');
            }
            sb.append('\n');
        }
        for (ThreadInfo ti : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
            sb.append(ti.toString());
        }
        return sb.toString();
    }

    private Object wrapResult(Handler h, Object result) {
        if (result == null) {
            return null;
        }
        if (result instanceof Vm vm) {
            Lanes lanes = new Lanes(id);
            return proxyFor(lanes, vm);
        }
        if (h.lanes() != null && (result instanceof Vcpu || result instanceof GuestMemory)) {
            return proxyFor(h.lanes(), result);
        }
        if (h.lanes() != null && result instanceof List<?> list && h.target() instanceof Vm) {
            List<Object> out = new ArrayList<>(list.size());
            for (Object o : list) {
                out.add(o instanceof Vcpu ? proxyFor(h.lanes(), o) : o);
            }
            return List.copyOf(out);
        }
        return result;
    }

    private Object proxyFor(Lanes lanes, Object target) {
        synchronized (lanes) {
            Object p = lanes.proxies.get(target);
            if (p == null) {
                p = proxy(target, lanes);
                lanes.proxies.put(target, p);
            }
            return p;
        }
    }
}
