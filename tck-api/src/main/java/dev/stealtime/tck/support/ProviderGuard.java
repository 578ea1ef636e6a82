package dev.stealtime.tck.support;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.X86Vcpu;

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
 *       the vCPU's run/preempt/idle, guest and host MSR and attribute calls, SMCCC, starting and
 *       reading the dirty log, moving guest RAM)
 *       runs on a worker thread ({@link CallLane}: one per vCPU, so a vCPU is still driven from one
 *       thread at a time)
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

    /** Consecutive timed-out calls of one kind after which the provider is given up for the run. */
    public static final int GIVE_UP_AFTER = 3;

    /** The calls that make the hypervisor work: bounded in time. */
    private static final Set<String> TIMED = Set.of("availability", "open", "close", "run", "preempt", "idle",
            "guestWrmsr", "guestRdmsr", "hostSetMsr", "hostGetMsr", "cpuid", "hasDeviceAttr", "setDeviceAttr",
            "getDeviceAttr", "smccc", "startDirtyLog", "takeDirtyPages", "replaceBacking");

    private final HypervisorProvider target;
    private final String id;
    private final Duration limit;
    private final long limitNanos;
    private final String limitOrigin;
    /** How long {@link HypervisorProvider#prepare()} may take; null: never prepare (a listing). */
    private final Duration prepareLimit;
    private boolean prepared;
    private Availability prepareFailure;
    /** Per call name, how many of its calls in a row did not return (a call that returns resets its count). */
    private final Map<String, AtomicInteger> consecutiveTimeouts = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile String givenUp;

    private ProviderGuard(HypervisorProvider target, Duration limit, String limitOrigin, Duration prepareLimit) {
        this.target = target;
        this.prepareLimit = prepareLimit;
        String i;
        try {
            i = target.id();
        } catch (RuntimeException e) {
            i = target.getClass().getName();
        }
        this.id = i == null ? target.getClass().getName() : i;
        this.limit = limit;
        this.limitNanos = limit.toNanos();
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

    /**
     * Wraps {@code provider} (once: a guarded provider is returned as it is). The first
     * {@code availability()} through the guard first runs the provider's {@link HypervisorProvider#prepare()}
     * (once, within {@code tck.prepare.timeout}); a preparation that throws or does not finish makes
     * the provider unavailable with that reason.
     */
    public static HypervisorProvider wrap(HypervisorProvider provider, TckConfig config) {
        return wrap(provider, config, true);
    }

    /**
     * Wraps {@code provider} for a listing ({@code tck providers}): the same bounds, but
     * {@code availability()} is asked without preparing (no downloads, builds or boots).
     */
    public static HypervisorProvider wrapForListing(HypervisorProvider provider, TckConfig config) {
        return wrap(provider, config, false);
    }

    private static HypervisorProvider wrap(HypervisorProvider provider, TckConfig config, boolean prepare) {
        if (isGuarded(provider)) {
            return provider;
        }
        Duration own = ownCallTimeout(provider, config);
        if (own != null) {
            config.withProviderDefault(TckConfig.Key.CALL_TIMEOUT, TckConfig.format(own), provider.id());
        }

        Duration base = config.callTimeout();
        double m = config.timingMultiplier();
        Duration limit = Duration.ofNanos(Math.round(base.toNanos() * m));
        String origin = TckConfig.Key.CALL_TIMEOUT.property + " " + TckConfig.format(base)
                + (own == null ? "" : " (" + provider.id() + "'s own default)") + (m == 1 ? "" : " × timing multiplier " + m);
        ProviderGuard g = new ProviderGuard(provider, limit, origin, prepare ? config.prepareTimeout() : null);
        return (HypervisorProvider) g.proxy(provider, null);
    }

    /**
     * The provider's {@link HypervisorProvider#defaultCallTimeout()} where it applies: the user set no
     * call timeout (nor did an earlier wrap) and the provider's is longer than the default. Null
     * otherwise, also when the provider's answer is unusable (it never breaks the run).
     */
    private static Duration ownCallTimeout(HypervisorProvider provider, TckConfig config) {
        if (!"default".equals(config.origin(TckConfig.Key.CALL_TIMEOUT))) {
            return null;
        }
        try {
            Duration own = provider.defaultCallTimeout().orElse(null);
            return own != null && own.compareTo(config.callTimeout()) > 0 ? own : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    // ---- the call path shared by every decorator ----

    /** Carries a provider's exception out of a call body. */
    static final class Thrown extends Exception {
        Thrown(Throwable cause) {
            super(null, cause, false, false);
        }
    }

    /**
     * Runs the provider's {@code prepare()} once (never for a listing): null when it went well, else
     * the unavailability it amounts to. The provider's own exceptions and a preparation that does not
     * finish within {@code tck.prepare.timeout} are reasons, not errors of the TCK.
     */
    synchronized Availability prepareOnce() {
        if (prepareLimit == null || prepared) {
            return prepareFailure;
        }
        prepared = true;
        CallLane lane = new CallLane("HypervisorProvider.prepare()");
        try {
            lane.call(() -> {
                target.prepare();
                return null;
            }, prepareLimit.toNanos());
        } catch (CallLane.Failed e) {
            prepareFailure = Availability.no("prepare() threw " + ProviderException.vendorMessage(e.getCause()));
        } catch (TimeoutException e) {
            lane.worker().interrupt();
            prepareFailure = Availability.no("provider call HypervisorProvider.prepare() did not finish within "
                    + TckConfig.format(prepareLimit) + " (" + TckConfig.Key.PREPARE_TIMEOUT.property + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            prepareFailure = Availability.no("interrupted while the provider prepared");
        } finally {
            lane.close();
        }
        return prepareFailure;
    }

    /** Whether {@code p} does work in {@link HypervisorProvider#prepare()} (overrides the default). */
    public static boolean prepares(HypervisorProvider p) {
        try {
            return unwrap(p).getClass().getMethod("prepare").getDeclaringClass() != HypervisorProvider.class;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** A call's body. */
    @FunctionalInterface
    interface Body<T> {
        T call() throws Thrown;
    }

    /**
     * Makes one provider call: {@code timed} ones within the limit (on the watched test thread
     * directly, elsewhere through a {@link CallLane}), every exception translated.
     *
     * @param lanes  the VM's lanes, null for provider-level calls
     * @param target the provider object called (for messages)
     * @param args   the arguments (for messages; read only when a message is needed)
     */
    <T> T work(Lanes lanes, Object target, String name, Object[] args, boolean timed, Body<T> body) {
        if (!timed) {
            try {
                return body.call();
            } catch (Thrown t) {
                throw translate(target, name, args, t.getCause());
            } catch (RuntimeException | Error e) {
                throw translate(target, name, args, e);
            }
        }
        if (lanes != null && lanes.abandoned != null) {
            throw new ProviderTimeoutException("provider call " + describe(target, name, args)
                    + " not made: this VM was abandoned after " + lanes.abandoned, false);
        }
        if (givenUp != null) {
            throw new ProviderTimeoutException("provider call " + describe(target, name, args) + " not made: provider '" + id
                    + "' was given up after " + GIVE_UP_AFTER + " calls in a row did not return (last: " + givenUp + ")", false);
        }
        Duration own = null;
        if (args != null) {
            for (Object a : args) {
                if (a instanceof Duration d) {
                    own = d;
                    break;
                }
            }
        }
        Watch w = lanes != null && target instanceof Vcpu ? Watch.CURRENT.get() : null;
        if (w != null) {
            // on the test thread itself, watched by TckTest's hook: no hand-off, races keep their pace
            w.start(this, lanes, target, name, args, own);
            try {
                T r = body.call();
                returned(name);
                return r;
            } catch (Thrown t) {
                returned(name);
                throw translate(target, name, args, t.getCause());
            } catch (RuntimeException | Error e) {
                throw translate(target, name, args, e);
            } finally {
                w.stop();
            }
        }
        CallLane lane = lanes == null ? new CallLane(describe(target, name, args)) : lanes.lane(target, kind(target));
        try {
            @SuppressWarnings("unchecked")
            T r = (T) lane.call(body::call, allowed(own).toNanos());
            returned(name);
            return r;
        } catch (CallLane.Failed e) {
            returned(name);
            Throwable cause = e.getCause() instanceof Thrown t ? t.getCause() : e.getCause();
            throw translate(target, name, args, cause);
        } catch (TimeoutException e) {
            throw timedOut(lanes, target, name, args, own, lane.worker());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProviderException("interrupted while waiting for provider call " + describe(target, name, args), e);
        } finally {
            if (lanes == null) {
                lane.close();
            } else if (name.equals("close")) {
                lanes.shutdown();
            }
        }
    }

    /** The current thread's watch when a vCPU call may take the lean path (nothing abandoned or given up), else null. */
    Watch watching(Lanes lanes) {
        return lanes.abandoned == null && givenUp == null && consecutiveTimeouts.isEmpty() ? Watch.CURRENT.get() : null;
    }

    private Duration allowed(Duration own) {
        return own == null ? limit : limit.plus(own);
    }

    private RuntimeException translate(Object target, String name, Object[] args, Throwable vendor) {
        if (documented(target, name, vendor)) {
            return (RuntimeException) vendor;
        }
        if (vendor instanceof ProviderException pe) {
            return pe;
        }
        if (vendor instanceof VirtualMachineError vme) {
            throw vme;
        }
        return ProviderException.thrownBy(id, describe(target, name, args), vendor);
    }

    /** Exceptions the SPI documents as the answer of a call: they reach the test unchanged. */
    private static boolean documented(Object target, String name, Throwable t) {
        return (target instanceof GuestMemory && t instanceof IndexOutOfBoundsException)
                || (name.equals("open") && t instanceof UnsupportedOperationException)
                || (name.equals("hostGetMsr") && t instanceof IllegalStateException);
    }

    /** Records a call that did not return (the VM abandoned, maybe the provider given up) and says so. */
    private ProviderTimeoutException timedOut(Lanes lanes, Object target, String name, Object[] args, Duration own, Thread stuck) {
        String call = describe(target, name, args);
        String what = "provider call " + call + " did not return within " + TckConfig.format(allowed(own))
                + " (" + limitOrigin + (own == null ? "" : " + the call's own " + TckConfig.format(own)) + ")";
        if (lanes != null) {
            lanes.abandoned = what;
        }
        if (timeouts(name).incrementAndGet() >= GIVE_UP_AFTER) {
            givenUp = what;
        }
        StackTraceElement[] frames = stuck.getStackTrace();
        Evidence.text("thread dump: " + call + " did not return", threadDump(stuck));
        stuck.interrupt();   // in case the provider listens
        return new ProviderTimeoutException(what + "; the VM is abandoned and the next test opens a fresh one. "
                + "Stuck thread '" + stuck.getName() + "':\n" + ProviderException.frames(frames, 8), true);
    }

    private AtomicInteger timeouts(String name) {
        return consecutiveTimeouts.computeIfAbsent(name, k -> new AtomicInteger());
    }

    /** A call of {@code name} returned: its run of timeouts (if any) ends. Cheap on the hot path. */
    private void returned(String name) {
        if (consecutiveTimeouts.isEmpty()) {
            return;
        }
        AtomicInteger c = consecutiveTimeouts.get(name);
        if (c != null && c.get() != 0) {
            c.set(0);
        }
    }

    /**
     * The provider call a test thread is making, so that {@link TckTest}'s hook, waiting on that
     * thread, can tell when the call overran its limit and leave the thread behind. vCPU calls on a
     * watched test thread are made directly (no hand-off): the torn-read races make thousands of them.
     */
    public static final class Watch {
        static final ThreadLocal<Watch> CURRENT = new ThreadLocal<>();

        private static final java.lang.invoke.VarHandle ACTIVE;

        static {
            try {
                ACTIVE = java.lang.invoke.MethodHandles.lookup().findVarHandle(Watch.class, "active", boolean.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        // Written by the test thread before it publishes them with a release store of 'active' (no
        // fence on the hot path: a volatile store per field cost the races a third of their updates);
        // read by the hook after an acquire load of 'active'.
        private ProviderGuard guard;
        private Lanes lanes;
        private Object target;
        private String name;
        private Object[] args;
        private Duration own;
        /** Counts the calls, so the hook can tell one long call from many short ones. */
        private long seq;
        @SuppressWarnings("unused")
        private boolean active;
        // the hook's own view: which call it saw in progress, and since when (no clock read on the hot path)
        private long seenSeq = -1;
        private long seenSince;

        /** Watches the calls made on the current thread from now on. */
        public static void watchCurrentThread(Watch w) {
            CURRENT.set(w);
        }

        void start(ProviderGuard g, Lanes l, Object t, String n, Object[] a, Duration o) {
            guard = g;
            lanes = l;
            target = t;
            name = n;
            args = a;
            own = o;
            seq++;
            ACTIVE.setRelease(this, true);
        }

        void stop() {
            ACTIVE.setRelease(this, false);
        }

        /**
         * Null while the watched thread's current call (if any) is within its limit; otherwise the
         * failure to report, with the thread's frames (and the dump attached to the current test).
         * Called by the hook every few milliseconds: a call is timed from the first time the hook
         * sees it (the limit is seconds; a poll period late is nothing).
         */
        public ProviderTimeoutException overrun(Thread watched) {
            if (!(boolean) ACTIVE.getAcquire(this)) {
                return null;
            }
            long now = System.nanoTime();
            if (seq != seenSeq) {
                seenSeq = seq;
                seenSince = now;
                return null;
            }
            if (now - seenSince < guard.limitNanos + (own == null ? 0 : own.toNanos())) {
                return null;
            }
            ACTIVE.setRelease(this, false);
            return guard.timedOut(lanes, target, name, args == null && own != null ? new Object[]{own} : args, own, watched);
        }
    }

    // ---- descriptions ----

    private static String kind(Object target) {
        return target instanceof HypervisorProvider ? "HypervisorProvider"
                : target instanceof Vm ? "Vm" : target instanceof Vcpu v ? vcpuName(v) : target instanceof GuestMemory ? "GuestMemory"
                : target.getClass().getSimpleName();
    }

    /** "Vcpu[0].run(1ms)": which call, on what, with which arguments. */
    static String describe(Object target, String name, Object[] args) {
        return kind(target) + "." + name + "(" + (args == null ? "" : Arrays.stream(args).map(ProviderGuard::arg)
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

    static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
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

    // ---- the decorators: a proxy for the provider, VMs and memory; handwritten vCPUs (the hot path) ----

    /** The worker threads of one VM (one per vCPU, one for the VM itself) and its decorators; abandoned on a timeout. */
    static final class Lanes {
        final Map<Object, CallLane> byTarget = new IdentityHashMap<>();
        final Map<Object, Object> decorated = new IdentityHashMap<>();
        volatile String abandoned;

        synchronized CallLane lane(Object target, String name) {
            return byTarget.computeIfAbsent(target, t -> new CallLane(name));
        }

        synchronized void shutdown() {
            byTarget.values().forEach(CallLane::close);
        }
    }

    private Object proxy(Object target, Lanes lanes) {
        Set<Class<?>> ifaces = new LinkedHashSet<>();
        for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
            collect(c, ifaces);
        }
        return Proxy.newProxyInstance(HypervisorProvider.class.getClassLoader(), ifaces.toArray(Class<?>[]::new), new Handler(this, target, lanes));
    }

    private static void collect(Class<?> c, Set<Class<?>> out) {
        for (Class<?> i : c.getInterfaces()) {
            if (i.getPackageName().equals(HypervisorProvider.class.getPackageName())) {
                out.add(i);
            }
            collect(i, out);
        }
    }

    /** True when {@code target}'s class implements {@code method} itself rather than inheriting the interface's default. */
    private static boolean overrides(Object target, Method method) {
        try {
            return !target.getClass().getMethod(method.getName(), method.getParameterTypes()).isDefault();
        } catch (NoSuchMethodException e) {
            return false;
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
            if (method.isDefault() && !(target instanceof HypervisorProvider) && !overrides(target, method)) {
                // e.g. Vm.vcpu(i): goes through vcpus() of the proxy, so the result is guarded too
                // (a default the provider overrides, such as GuestMemory.sharing(), is the provider's call)
                return InvocationHandler.invokeDefault(proxy, method, args);
            }
            if (target instanceof Vm && name.equals("close") && lanes != null && lanes.abandoned != null) {
                return null;   // abandoned: its calls hang, closing it would too
            }
            Body<Object> body = () -> {
                try {
                    return method.invoke(target, args);
                } catch (InvocationTargetException e) {
                    throw new Thrown(e.getCause());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("cannot call " + name + ": " + e.getMessage(), e);
                }
            };
            if (target instanceof HypervisorProvider && name.equals("prepare")) {
                Availability failed = guard.prepareOnce();   // once per guard, and never for a listing
                if (failed != null) {
                    throw new ProviderException(failed.reason(), null);
                }
                return null;
            }
            if (target instanceof HypervisorProvider && name.equals("availability")) {
                // prepared first (once); "must not throw": one that does, hangs or answers null is unavailable, in its own words
                Availability failed = guard.prepareOnce();
                if (failed != null) {
                    return failed;
                }
                try {
                    Object a = guard.work(null, target, name, args, true, body);
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
            return guard.wrapResult(lanes, guard.work(lanes, target, name, args, TIMED.contains(name), body));
        }
    }

    private Object wrapResult(Lanes lanes, Object result) {
        if (result == null) {
            return null;
        }
        if (result instanceof Vm vm) {
            return decorate(new Lanes(), vm);
        }
        if (lanes != null && (result instanceof Vcpu || result instanceof GuestMemory)) {
            return decorate(lanes, result);
        }
        if (lanes != null && result instanceof List<?> list) {
            List<Object> out = new ArrayList<>(list.size());
            for (Object o : list) {
                out.add(o instanceof Vcpu ? decorate(lanes, o) : o);
            }
            return List.copyOf(out);
        }
        return result;
    }

    private Object decorate(Lanes lanes, Object target) {
        synchronized (lanes) {
            Object d = lanes.decorated.get(target);
            if (d == null) {
                d = target instanceof X86Vcpu x ? new GuardedX86Vcpu(this, lanes, x)
                        : target instanceof Arm64Vcpu a ? new GuardedArm64Vcpu(this, lanes, a)
                        : target instanceof Vcpu v ? new GuardedVcpu(this, lanes, v)
                        : proxy(target, lanes);
                lanes.decorated.put(target, d);
            }
            return d;
        }
    }

    /** A vCPU, decorated by hand: races call run/preempt hundreds of thousands of times, so no reflection. */
    static class GuardedVcpu implements Vcpu {
        final ProviderGuard g;
        final Lanes lanes;
        private final Vcpu inner;

        GuardedVcpu(ProviderGuard g, Lanes lanes, Vcpu inner) {
            this.g = g;
            this.lanes = lanes;
            this.inner = inner;
        }

        <T> T timed(String name, Object[] args, Body<T> body) {
            return g.work(lanes, inner, name, args, true, body);
        }

        <T> T direct(String name, Object[] args, Body<T> body) {
            return g.work(lanes, inner, name, args, false, body);
        }

        @Override
        public int index() {
            return direct("index", null, inner::index);
        }

        // run, preempt and idle are what races call in their loop: a lean path without allocation
        // when the test thread is watched (the general path otherwise, which also says why not)

        @Override
        public void run(Duration d) {
            workload(RUN, d);
        }

        @Override
        public void preempt(Duration d) {
            workload(PREEMPT, d);
        }

        @Override
        public void idle(Duration d) {
            workload(IDLE, d);
        }

        private static final String RUN = "run";
        private static final String PREEMPT = "preempt";
        private static final String IDLE = "idle";

        private void workload(String name, Duration d) {
            Watch w = g.watching(lanes);
            if (w == null) {
                timed(name, new Object[]{d}, () -> {
                    callWorkload(name, d);
                    return null;
                });
                return;
            }
            w.start(g, lanes, inner, name, null, d);
            try {
                callWorkload(name, d);
            } catch (RuntimeException | Error e) {
                throw g.translate(inner, name, new Object[]{d}, e);
            } finally {
                w.stop();
            }
        }

        private void callWorkload(String name, Duration d) {
            if (name == RUN) {
                inner.run(d);
            } else if (name == PREEMPT) {
                inner.preempt(d);
            } else {
                inner.idle(d);
            }
        }

        @Override
        public long hostStealMeasureNanos() {
            return direct("hostStealMeasureNanos", null, inner::hostStealMeasureNanos);
        }

        @Override
        public String toString() {
            return "guarded " + inner;
        }
    }

    static final class GuardedX86Vcpu extends GuardedVcpu implements X86Vcpu {
        private final X86Vcpu x;

        GuardedX86Vcpu(ProviderGuard g, Lanes lanes, X86Vcpu x) {
            super(g, lanes, x);
            this.x = x;
        }

        @Override
        public MsrResult guestWrmsr(int msr, long value) {
            return timed("guestWrmsr", new Object[]{msr, value}, () -> x.guestWrmsr(msr, value));
        }

        @Override
        public MsrResult guestRdmsr(int msr) {
            return timed("guestRdmsr", new Object[]{msr}, () -> x.guestRdmsr(msr));
        }

        @Override
        public boolean hostSetMsr(int msr, long value) {
            return timed("hostSetMsr", new Object[]{msr, value}, () -> x.hostSetMsr(msr, value));
        }

        @Override
        public long hostGetMsr(int msr) {
            return timed("hostGetMsr", new Object[]{msr}, () -> x.hostGetMsr(msr));
        }

        @Override
        public CpuidResult cpuid(int leaf) {
            return timed("cpuid", new Object[]{leaf}, () -> x.cpuid(leaf));
        }
    }

    static final class GuardedArm64Vcpu extends GuardedVcpu implements Arm64Vcpu {
        private final Arm64Vcpu a;

        GuardedArm64Vcpu(ProviderGuard g, Lanes lanes, Arm64Vcpu a) {
            super(g, lanes, a);
            this.a = a;
        }

        @Override
        public int hasDeviceAttr(int group, long attr) {
            return timed("hasDeviceAttr", new Object[]{group, attr}, () -> a.hasDeviceAttr(group, attr));
        }

        @Override
        public int setDeviceAttr(int group, long attr, long value) {
            return timed("setDeviceAttr", new Object[]{group, attr, value}, () -> a.setDeviceAttr(group, attr, value));
        }

        @Override
        public AttrResult getDeviceAttr(int group, long attr) {
            return timed("getDeviceAttr", new Object[]{group, attr}, () -> a.getDeviceAttr(group, attr));
        }

        @Override
        public long smccc(int functionId, long... args) {
            return timed("smccc", new Object[]{functionId, args}, () -> a.smccc(functionId, args));
        }

        /** A fact about the VM, not a call that makes the hypervisor work: untimed. */
        @Override
        public java.util.OptionalLong vmmPlacedIpa() {
            return a.vmmPlacedIpa();
        }

        /** The guest reads its tree (the test guest: one request per range): timed as a call. */
        @Override
        public java.util.List<dev.stealtime.tck.spi.DeviceTreeRange> deviceTree() {
            return timed("deviceTree", new Object[]{}, a::deviceTree);
        }
    }
}
