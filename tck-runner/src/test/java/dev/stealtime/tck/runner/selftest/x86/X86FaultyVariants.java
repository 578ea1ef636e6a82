package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.runner.reference.StealTimeMsr;
import dev.stealtime.tck.runner.reference.X86ReferenceVcpu;
import dev.stealtime.tck.runner.selftest.EverySecondUpdate;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import dev.stealtime.tck.runner.selftest.RamVariants;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.support.GuardBytes;

import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The x86 faulty hypervisors: each is the reference with exactly one defect (one overridden piece
 * of {@link StealTimeMsr}, {@link X86ReferenceVcpu} or the vCPU's virtual time), the rule(s) that
 * name the defect and so must catch it, and the rules that may fail as a direct consequence.
 */
public final class X86FaultyVariants {

    private X86FaultyVariants() {
    }

    /** Parts whose steal-time MSR is built by {@code msr}. */
    static ReferenceParts msr(BiFunction<GuestRam, Boolean, StealTimeMsr> msr) {
        return new ReferenceParts() {
            @Override
            public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
                return msr.apply(ram, offered);
            }
        };
    }

    /** Parts whose x86 vCPU is built by {@code vcpu}. */
    static ReferenceParts vcpu(VcpuFactory vcpu) {
        return new ReferenceParts() {
            @Override
            public X86ReferenceVcpu x86Vcpu(int index, StealTimeMsr msr, boolean offered) {
                return vcpu.make(index, msr, offered);
            }
        };
    }

    @FunctionalInterface
    interface VcpuFactory {
        X86ReferenceVcpu make(int index, StealTimeMsr msr, boolean offered);
    }

    public static List<FaultyVariant> all() {
        List<FaultyVariant> v = new ArrayList<>();
        discoveryAndAccess(v);
        alignment(v);
        registration(v);
        structureLayout(v);
        alternating(v);
        versionProtocol(v);
        stealAccounting(v);
        migration(v);
        updateSchedule(v);
        perVcpu(v);
        return v;
    }

    // ------------------------------------------------------------------ discovery and access

    private static void discoveryAndAccess(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("cpuid-bit-missing", "CPUID 0x40000001 EAX lacks bit 5 although steal time is offered",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public CpuidResult cpuid(int leaf) {
                        CpuidResult r = super.cpuid(leaf);
                        return leaf == KVM_CPUID_FEATURES ? new CpuidResult(0, r.ebx(), r.ecx(), r.edx()) : r;
                    }
                }), "X86-FEATURE-BIT"));
        v.add(FaultyVariant.of("withheld-msr-still-writable", "WRMSR is accepted although the feature bit is withheld and PV CPUID enforced",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        if (hasReservedBits(value)) {
                            return MsrResult.gp();
                        }
                        msrValue = value;
                        return MsrResult.ok();
                    }
                }), "X86-FEATURE-BIT"));
        v.add(FaultyVariant.of("host-set-ignores-withheld", "the VMM's KVM_SET_MSRS is accepted although the feature bit is withheld and PV CPUID enforced",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    private final StealTimeMsr always = new StealTimeMsr(null, true);

                    @Override
                    public boolean hostSetMsr(int index, long value) {
                        return offered ? super.hostSetMsr(index, value) : index == MSR_KVM_STEAL_TIME && !always.write(value).faulted();
                    }
                }), "X86-FEATURE-BIT"));
        v.add(FaultyVariant.of("no-kvm-signature", "CPUID 0x40000000 answers zeros: no KVM signature and no highest leaf, so a guest never reaches leaf 0x40000001",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public CpuidResult cpuid(int leaf) {
                        return leaf == KVM_CPUID_SIGNATURE ? new CpuidResult(0, 0, 0, 0) : super.cpuid(leaf);
                    }
                }), "X86-FEATURE-BIT"));
        v.add(FaultyVariant.of("rejects-zero", "WRMSR of 0 (disable, null address) #GPs",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        return value == 0 ? MsrResult.gp() : super.write(value);
                    }
                }), "X86-MSR-ACCESS")
                // writing 0 is also how those two tests disable and read back
                .mayAlsoFail("X86-DISABLE", "X86-RDMSR-READBACK"));
        v.add(FaultyVariant.of("rdmsr-drops-enable-bit", "RDMSR returns the address without the enable bit",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult read() {
                        MsrResult r = super.read();
                        return r.faulted() ? r : MsrResult.ok(r.value() & ~ENABLE);
                    }
                }), "X86-RDMSR-READBACK")
                // a VMM restores what the host MSR read gave it: without the enable bit the destination never updates
                .mayAlsoFail("X86-MIGRATION-CONTINUES", "X86-MIGRATION-VERSION", "X86-MIGRATION-SOURCE-QUIET")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
    }

    // ------------------------------------------------------------------ alignment

    private static void alignment(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("accepts-reserved-bit-3", "bit 3 is not treated as reserved (mask 0x36 instead of 0x3E)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected boolean hasReservedBits(long value) {
                        return (value & 0x36) != 0;
                    }
                }), "X86-ALIGN-REJECT"));
        v.add(FaultyVariant.of("masks-unaligned-address", "reserved bits are never checked: an unaligned address is masked instead of faulting",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected boolean hasReservedBits(long value) {
                        return false;
                    }
                }), "X86-ALIGN-REJECT"));
        v.add(FaultyVariant.of("rejected-value-recorded", "a WRMSR with reserved bits #GPs, but the value is stored anyway (and used)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        if (offered) {
                            msrValue = value;      // recorded before it is validated
                        }
                        return super.write(value);
                    }
                }), "X86-ALIGN-REJECT"));

        v.add(FaultyVariant.of("host-set-masks-reserved-bits", "the VMM path (KVM_SET_MSRS) clears bits 5:1 and accepts the value instead of rejecting it",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public boolean hostSetMsr(int index, long value) {
                        return super.hostSetMsr(index, value & ~StealTimeMsr.RESERVED_BITS);
                    }
                }), "X86-ALIGN-REJECT"));
    }

    // ------------------------------------------------------------------ registration

    private static void registration(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("ignores-structure-at-end-of-ram", "off by one: a structure in the last 64 bytes of a RAM region is never written",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected boolean inGuestRam(long gpa) {
                        return ram.contains(gpa, SIZE + 1);
                    }
                }), "X86-ENABLE"));
        v.add(FaultyVariant.of("expires-after-20-updates", "the registration lapses after 20 updates (expects a fresh WRMSR)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private int updates;

                    @Override
                    public void update(long runDelayNanos) {
                        if (enabled() && inGuestRam(structureAddress()) && ++updates > 20) {
                            return;
                        }
                        super.update(runDelayNanos);
                    }
                }), "X86-REGISTER-ONCE")
                // a race whose structure is never updated proves nothing and says so (both races: "not
                // exercised"); and X86-UPDATE-EVERY-ENTRY drives more than 20 updates, after which no entry
                // publishes anything
                .mayAlsoFail("X86-TORN-READ", "X86-VERSION-ADVANCES", "X86-UPDATE-EVERY-ENTRY"));
        v.add(FaultyVariant.of("any-nonzero-value-enables", "only a write of 0 disables: address|0 keeps the structure updated",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public boolean enabled() {
                        return msrValue != 0;
                    }
                }), "X86-DISABLE"));
        v.add(FaultyVariant.of("re-enable-ignored", "once a registration was disabled, enabling it again never resumes the updates",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private boolean wasEnabled;
                    private boolean disabledSince;

                    @Override
                    public void update(long runDelayNanos) {
                        if (!enabled()) {
                            disabledSince |= wasEnabled;
                            return;
                        }
                        wasEnabled = true;
                        if (!disabledSince) {
                            super.update(runDelayNanos);
                        }
                    }
                }), "X86-DISABLE"));
        v.add(FaultyVariant.of("outside-ram-wedges-updates", "after an address outside RAM was enabled, no structure is ever written again",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private boolean wedged;

                    @Override
                    public void update(long runDelayNanos) {
                        wedged |= enabled() && !inGuestRam(structureAddress());
                        if (!wedged) {
                            super.update(runDelayNanos);
                        }
                    }
                }), "X86-OUTSIDE-RAM"));
        v.add(FaultyVariant.of("out-of-ram-wraps-into-ram", "an address outside RAM wraps modulo 1 MiB and is written there",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected long structureAddress() {
                        long gpa = super.structureAddress();
                        return ram.contains(gpa, SIZE) ? gpa : gpa & ((1L << 20) - 1);
                    }
                }), "X86-OUTSIDE-RAM"));
    }

    // ------------------------------------------------------------------ structure layout

    private static void structureLayout(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("spills-past-64-bytes", "each update also stores steal in the 8 bytes after the structure",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        super.writeSteal(gpa, steal);
                        if (ram.contains(gpa + SIZE, 8)) {
                            ram.putLong(gpa + SIZE, steal);
                        }
                    }
                }), "X86-LAYOUT", "X86-ALIGN-NO-STRAY-WRITE")
                // what it writes past the structure lies in the next page when the structure ends a page: that page is dirtied
                .mayAlsoFail("X86-DIRTY-ONLY-STRUCTURE"));
        // a guard with one pattern cannot see a write of the value it holds: these write exactly the
        // canary's own byte (GuardBytes.pattern), which only the second, complemented pass sees
        v.add(FaultyVariant.of("stray-write-of-the-canary-value", "each update also stores, in the byte after the structure, the very byte the TCK's canary holds there",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        if (ram.contains(gpa + SIZE, 1)) {
                            ram.putByte(gpa + SIZE, GuardBytes.pattern(gpa + SIZE));
                        }
                        super.endUpdate(gpa, oddVersion);
                    }
                }), "X86-LAYOUT", "X86-ALIGN-NO-STRAY-WRITE")
                .mayAlsoFail("X86-DIRTY-ONLY-STRUCTURE"));
        v.add(FaultyVariant.of("pad-write-of-the-canary-value", "each update stores in padding byte 24 the very byte the TCK's canary holds there",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        ram.putByte(gpa + 24, GuardBytes.pattern(gpa + 24));
                        super.endUpdate(gpa, oddVersion);
                    }
                }), "X86-PAD-UNTOUCHED"));
        v.add(FaultyVariant.of("zeroes-padding", "each update rewrites the padding (bytes 20..63) with zeros",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        ram.zero(gpa + 20, SIZE - 20);
                        super.endUpdate(gpa, oddVersion);
                    }
                }), "X86-PAD-UNTOUCHED"));
        v.add(FaultyVariant.of("sets-flags", "each update sets flags to 1",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected int beginUpdate(long gpa, int version) {
                        ram.putInt(gpa + FLAGS, 1);
                        return super.beginUpdate(gpa, version);
                    }
                }), "X86-FLAGS-ZERO"));
        v.add(FaultyVariant.of("big-endian-version", "the version is kept big-endian in guest memory",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected int readVersion(long gpa) {
                        return Integer.reverseBytes(super.readVersion(gpa));
                    }

                    @Override
                    protected void writeVersion(long gpa, int version) {
                        super.writeVersion(gpa, Integer.reverseBytes(version));
                    }
                }), "X86-LITTLE-ENDIAN")
                // read big-endian, the odd version the guest left looks even, so it is not fixed up; and
                // as a little-endian guest reads it, the version neither stays monotonic (it goes back
                // after 128 updates) nor turns odd during an update
                .mayAlsoFail("X86-VERSION-ODD-START", "X86-VERSION-ADVANCES"));
        v.add(FaultyVariant.of("big-endian-steal", "steal is kept big-endian in guest memory (read and written so)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected long readSteal(long gpa) {
                        return Long.reverseBytes(super.readSteal(gpa));
                    }

                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        super.writeSteal(gpa, Long.reverseBytes(steal));
                    }
                }), "X86-LITTLE-ENDIAN")
                // every test that reads steal as the little-endian u64 it is sees nonsense: wrong
                // amounts, values that jump backwards, a guest value not continued from
                .mayAlsoFail("X86-STEAL-ACCOUNTS", "X86-STEAL-NANOSECONDS", "X86-STEAL-MONOTONIC",
                        "X86-ACCUMULATES-IN-MEMORY", "X86-TORN-READ", "X86-PER-VCPU", "X86-UPDATE-EVERY-ENTRY")
                // the transferred little-endian steal is read as big-endian: the destination does not continue from it
                .mayAlsoFail("X86-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
    }

    // ------------------------------------------------------------------ defects that alternate

    private static void alternating(List<FaultyVariant> v) {
        // defects that alternate (issue 27): each shows on every second update only, so a test judging two
        // snapshots with an even number of updates between them passes it; the rule must judge every update
        v.add(FaultyVariant.of("steal-swapped-every-update", "steal is read back little-endian but stored byte-swapped, accumulating in "
                        + "guest memory: each update swaps the bytes again, so after an update with nothing to add it reads right",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        super.writeSteal(gpa, Long.reverseBytes(steal));
                    }
                }), "X86-LITTLE-ENDIAN")
                .mayAlsoFail("X86-STEAL-ACCOUNTS", "X86-STEAL-NANOSECONDS", "X86-STEAL-MONOTONIC",
                        "X86-ACCUMULATES-IN-MEMORY", "X86-TORN-READ", "X86-PER-VCPU", "X86-UPDATE-EVERY-ENTRY")
                .mayAlsoFail("X86-MIGRATION-CONTINUES")
                // X86-LAYOUT's "steal in the u64 at offset 0 grew" reads a swapped value there (huge) before and a right one after
                .mayAlsoFail("X86-LAYOUT")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("flags-set-every-second-update", "every second update stores flags 1, the others 0",
                everySecondUpdate((ram, gpa, second) -> ram.putInt(gpa + StealTimeMsr.FLAGS, second ? 1 : 0)), "X86-FLAGS-ZERO"));
        v.add(FaultyVariant.of("preempted-set-every-second-update", "every second update leaves preempted as it was (1 after a preemption) "
                        + "instead of clearing it",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private long updates;

                    @Override
                    protected void clearPreempted(long gpa) {
                        if (++updates % 2 != 0) {
                            super.clearPreempted(gpa);
                        }
                    }
                }), "X86-PREEMPTED-CLEARED"));
        v.add(FaultyVariant.of("preempted-never-cleared", "preempted stays 1 once the vCPU was preempted, also while the guest runs",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void clearPreempted(long gpa) {
                    }
                }), "X86-PREEMPTED-CLEARED"));
        v.add(FaultyVariant.of("preempted-never-cleared-when-alone",
                "with steal time the only paravirtual feature, preempted stays 1 once the vCPU was preempted (Linux before 1eff0ada88b4)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void clearPreempted(long gpa) {
                        if (!onlyStealTime) {
                            super.clearPreempted(gpa);
                        }
                    }
                }), "X86-PREEMPTED-CLEARED"));
    }

    // ------------------------------------------------------------------ version protocol

    private static void versionProtocol(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("version-never-advances", "the version is never written",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected int beginUpdate(long gpa, int version) {
                        return version - 1;        // endUpdate then writes the version back unchanged
                    }
                }), "X86-VERSION-ADVANCES")
                // a version the guest left odd is never advanced either, so it stays odd;
                // and with the version frozen the guest's protocol cannot see that steal changed under
                // a read: a reader descheduled mid-read accepts a value from updates after the bounds
                // it sampled (seen in CI: sometimes, when a reader is preempted inside its read)
                .mayAlsoFail("X86-VERSION-ODD-START", "X86-TORN-READ")
                // the destination's version does not advance either
                .mayAlsoFail("X86-MIGRATION-VERSION")
                // the live migration rule also asks the destination's version to be even and above the last one seen
                .mayAlsoFail("X86-LIVE-MIGRATION-CONTINUES"));
        // Only a reader that reads between the two stores can see this defect. With nothing between
        // them the window is a few nanoseconds and a race catches it only sometimes (measured: 0 to
        // ~1,000 catches per second of racing on a 2-CPU machine, none at all when reader and writer
        // end up time-sliced on one CPU); here the hypervisor thread is preempted between the stores
        // (it yields, then is busy 2 µs), so the self-test is deterministic.
        v.add(FaultyVariant.of("version-skips-odd", "the version goes from even straight to the next even before steal is written (never odd); the update is preempted between the two stores",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected int beginUpdate(long gpa, int version) {
                        int even = ((version + 1) & ~1) + 2;
                        writeVersion(gpa, even);
                        preemptedHere();
                        return even - 1;           // endUpdate writes the same even value again
                    }
                }), "X86-VERSION-ADVANCES"));
        // found by an independent implementation (a Python hypervisor behind an exec: adapter): even ->
        // even+2, then steal, each one aligned store a few µs apart, every call a round trip of a few
        // hundred µs; X86-VERSION-ADVANCES caught it in 8 runs of 10. No yield here: the window is only
        // as wide as the gap between the stores. Its detection rate is measured by VersionRacePower.
        v.add(FaultyVariant.of("version-never-odd-slow-adapter", "the version goes from even straight to the next even, steal is "
                        + "stored 2 µs later (never odd); every vCPU call costs a 300 µs round trip, as through an adapter",
                new ReferenceParts() {
                    @Override
                    public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
                        return new StealTimeMsr(ram, offered) {
                            @Override
                            protected int beginUpdate(long gpa, int version) {
                                int even = ((version + 1) & ~1) + 2;
                                writeVersion(gpa, even);
                                spin(2_000);
                                return even - 1;       // endUpdate writes the same even value again
                            }
                        };
                    }

                    @Override
                    public X86ReferenceVcpu x86Vcpu(int index, StealTimeMsr msr, boolean offered) {
                        return new X86ReferenceVcpu(index, msr, offered) {
                            @Override
                            public void run(Duration d) {
                                spin(300_000);
                                super.run(d);
                            }

                            @Override
                            public void preempt(Duration d) {
                                spin(300_000);
                                super.preempt(d);
                            }
                        };
                    }
                }, "X86-VERSION-ADVANCES")
                .racy("caught only when a reader lands in the 2 µs between the version and the steal store (rate: VersionRacePower)"));
        v.add(FaultyVariant.of("version-bumped-once", "the version is bumped once per update, so it ends odd",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                    }
                }), "X86-VERSION-EVEN")
                // an odd version after each update: "strictly larger and even" fails, and guest readers
                // following the protocol never obtain a value for the race to judge
                .mayAlsoFail("X86-VERSION-ADVANCES", "X86-VERSION-ODD-START", "X86-TORN-READ")
                // the destination's versions are odd too
                .mayAlsoFail("X86-MIGRATION-VERSION")
                // the live migration rule also asks the destination's version to be even and above the last one seen
                .mayAlsoFail("X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("version-steps-1-then-3", "every second update leaves the version odd (stepped by 1); the next "
                        + "fixes it up and steps it by 3: 0, 1, 4, 5, 8",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private long updates;

                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        if (++updates % 2 == 0) {
                            super.endUpdate(gpa, oddVersion);
                        }
                    }
                }), "X86-VERSION-EVEN")
                // as version-bumped-once, on every second update
                .mayAlsoFail("X86-VERSION-ADVANCES", "X86-VERSION-ODD-START", "X86-TORN-READ", "X86-MIGRATION-VERSION"));
        v.add(FaultyVariant.of("odd-start-not-fixed", "an odd version left by the guest is incremented without the fix-up, so it ends odd",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected int beginUpdate(long gpa, int version) {
                        version++;
                        writeVersion(gpa, version);
                        return version;
                    }
                }), "X86-VERSION-ODD-START"));
        // as above: the hypervisor thread is preempted between the two halves, so the race sees it even
        // when reader and writer share one CPU (with the halves back to back it is caught too, less surely)
        v.add(FaultyVariant.of("steal-halves-outside-protocol", "steal is stored as two 32-bit halves, low then high, after the version is already even again; preempted between the halves",
                stealHalvesAfterTheVersion(false, false), "X86-TORN-READ")
                // the steal store is not covered by an odd version: readers see it change under an even one
                .mayAlsoFail("X86-VERSION-ADVANCES"));
        v.add(FaultyVariant.of("steal-halves-own-total", "as steal-halves-outside-protocol, by a hypervisor that keeps its own steal total "
                        + "(so under measured timing the TCK cannot seed it: the race drives the carries itself)",
                stealHalvesAfterTheVersion(false, true), "X86-TORN-READ")
                .mayAlsoFail("X86-VERSION-ADVANCES", "X86-ACCUMULATES-IN-MEMORY", "X86-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("steal-halves-high-first", "as steal-halves-outside-protocol, the high half first",
                stealHalvesAfterTheVersion(true, false), "X86-TORN-READ")
                .mayAlsoFail("X86-VERSION-ADVANCES"));
    }

    // ------------------------------------------------------------------ steal accounting

    private static void stealAccounting(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("counts-idle-as-steal", "time the vCPU spends halted is reported as steal",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    protected void idleFor(Duration d) {
                        accountAsSteal(d.toNanos());
                    }
                }), "X86-IDLE-EXCLUDED"));
        v.add(FaultyVariant.of("counts-run-time-as-steal", "time the guest runs is reported as steal too",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public void run(Duration d) {
                        accountAsSteal(d.toNanos());
                        super.run(d);
                    }
                }), "X86-STEAL-ACCOUNTS")
                // the destination adds its run time as steal on top of the transferred value
                .mayAlsoFail("X86-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("reports-microseconds", "steal is reported in microseconds",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return runDelayDeltaNanos / 1000;
                    }
                }), "X86-STEAL-NANOSECONDS")
                // a thousand times too little is also below the induced delay, also on the entry after it; and
                // steal then carries into its upper half only every ~1,000 steps, which a race through an
                // adapter may not reach: X86-TORN-READ says "not exercised"
                .mayAlsoFail("X86-STEAL-ACCOUNTS", "X86-UPDATE-EVERY-ENTRY", "X86-TORN-READ"));
        v.add(FaultyVariant.of("reports-picoseconds", "steal is reported in picoseconds (a thousand times too much)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return runDelayDeltaNanos * 1000;
                    }
                }), "X86-STEAL-NANOSECONDS")
                // a thousand times too much is above the host's measure, above the race's ceiling, and
                // unrelated to the value the guest stored
                .mayAlsoFail("X86-STEAL-ACCOUNTS", "X86-TORN-READ", "X86-ACCUMULATES-IN-MEMORY")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("steal-wraps-at-32-bits", "steal is accumulated in 32 bits: it wraps to a small value after 4.29 s",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        super.writeSteal(gpa, steal & 0xFFFF_FFFFL);
                    }
                }), "X86-STEAL-MONOTONIC")
                // the race carries steal across 32-bit boundaries: readers see the wrap as a value below the floor
                .mayAlsoFail("X86-TORN-READ"));
        v.add(FaultyVariant.of("keeps-own-copy", "steal is accumulated in the hypervisor, ignoring what guest memory holds",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private long own;

                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        own += steal - readSteal(gpa);   // the delta the reference added to guest memory
                        super.writeSteal(gpa, own);
                    }
                }), "X86-ACCUMULATES-IN-MEMORY")
                // the destination's own total starts again from zero: below the transferred steal
                .mayAlsoFail("X86-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
    }

    // ------------------------------------------------------------------ migration, dirty logging, memory that moves

    private static void migration(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("restore-forgets-steal-msr", "the VMM's own save and restore carries guest memory but not "
                        + "MSR_KVM_STEAL_TIME (QEMU before its cpu/steal_time_msr vmstate; Launchpad #1494350)",
                new ReferenceParts() {
                    @Override
                    public void restore(Vcpu saved, Vcpu restored) {
                        // nothing: the restored vCPU starts with steal time unregistered
                    }
                }, "X86-RESTORE-CONTINUES")
                // its live migration carries what its save and restore does
                .mayAlsoFail("X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("hotplug-without-steal-time", "a vCPU the VMM adds while the guest runs is set up without steal time "
                        + "(no CPUID bit, and the MSR faults), unlike the boot vCPUs",
                new ReferenceParts() {
                    @Override
                    public Vcpu hotplugged(int index, GuestRam ram, Vcpu asBooted) {
                        return x86Vcpu(index, stealTimeMsr(ram, false), false);
                    }
                }, "X86-HOTPLUG-OFFERED"));
        v.add(FaultyVariant.of("live-migration-forgets-steal-msr", "the VMM's live migration carries guest memory but not "
                        + "MSR_KVM_STEAL_TIME (its save and restore does)",
                new ReferenceParts() {
                    @Override
                    public void migrate(Vcpu source, Vcpu destination) {
                        // nothing: the destination vCPU starts with steal time unregistered
                    }
                }, "X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("registration-zeroes-structure", "accepting an enabling MSR write zeroes the 64 bytes at the address "
                        + "(harmless for a guest's first registration; a restored registration wipes the migrated steal)",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        MsrResult r = super.write(value);
                        if (!r.faulted() && enabled() && inGuestRam(structureAddress())) {
                            ram.zero(structureAddress(), SIZE);
                        }
                        return r;
                    }
                }), "X86-MIGRATION-CONTINUES")
                // the version restarts from zero too
                .mayAlsoFail("X86-MIGRATION-VERSION")
                // zeroing writes the padding, and a re-registration loses the steal accrued before it
                .mayAlsoFail("X86-PAD-UNTOUCHED", "X86-UPDATE-EVERY-ENTRY")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("X86-RESTORE-CONTINUES", "X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("version-kept-in-hypervisor", "the version is counted in the hypervisor (per vCPU, from 0), not read back from guest memory",
                X86LegalVariants.ownVersionCounter(), "X86-MIGRATION-VERSION")
                // a version the guest left odd is ignored as well
                .mayAlsoFail("X86-VERSION-ODD-START")
                // the live migration rule also asks the destination's version to be even and above the last one seen
                .mayAlsoFail("X86-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("publishes-on-save", "the VMM's MSR read (KVM_GET_MSRS) first publishes the pending steal into the structure",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public long hostGetMsr(int index) {
                        m.update(hostStealMeasureNanos());
                        return super.hostGetMsr(index);
                    }
                }), "X86-MIGRATION-SOURCE-QUIET"));
        v.add(FaultyVariant.of("updates-not-dirty-logged", "the hypervisor's updates are not recorded in the dirty log",
                RamVariants.updatesNotLogged(), "X86-DIRTY-LOGGED"));
        v.add(FaultyVariant.of("dirty-log-next-page", "each update also logs the page after the structure's as dirty",
                RamVariants.logsTheNextPageToo(), "X86-DIRTY-ONLY-STRUCTURE"));
        v.add(FaultyVariant.of("stale-mapping", "the guest-physical to host translation of the structure is cached and never "
                + "revalidated: after the memory slot moved, updates still go to the old backing", RamVariants.staleMapping(), "X86-MEMORY-MOVES"));
    }

    // ------------------------------------------------------------------ update schedule

    private static void updateSchedule(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("update-one-entry-late", "each update publishes the run delay sampled at the previous entry: a preemption shows only on the second entry after it",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private long previousSample;

                    @Override
                    public void update(long runDelayNanos) {
                        super.update(previousSample);
                        previousSample = runDelayNanos;
                    }
                }), "X86-UPDATE-EVERY-ENTRY"));

        // each round of X86-UPDATE-EVERY-ENTRY once had exactly 3 entries, so this schedule aliased with it
        v.add(FaultyVariant.of("updates-every-third-entry", "the structure is updated on every third guest entry only (legal at "
                        + "required, see X86LegalVariants; Linux updates on every entry)",
                X86LegalVariants.everyThirdEntry(), "X86-UPDATE-EVERY-ENTRY"));
    }

    // ------------------------------------------------------------------ per-vCPU isolation

    private static void perVcpu(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("one-structure-per-vm", "every vCPU's updates go to the structure the first registering vCPU set",
                sharedStructure(), "X86-PER-VCPU")
                // a hot-plugged vCPU registers its own structure as the second of the VM: never written either
                .mayAlsoFail("X86-HOTPLUG-OFFERED"));
        v.add(FaultyVariant.of("msr-per-vm", "the MSR is kept per VM, not per vCPU: all vCPUs share one value and one accumulator",
                sharedMsr(), "X86-PER-VCPU"));
    }

    /** Each update is the reference's, then {@code stamp}s the structure, told whether it is an even-numbered update. */
    static ReferenceParts everySecondUpdate(EverySecondUpdate stamp) {
        return msr((ram, offered) -> new StealTimeMsr(ram, offered) {
            private long updates;

            @Override
            protected void endUpdate(long gpa, int oddVersion) {
                stamp.stamp(ram, gpa, ++updates % 2 == 0);
                super.endUpdate(gpa, oddVersion);
            }
        });
    }

    /** The update completes the version protocol first, then stores steal as two 32-bit halves. */
    private static ReferenceParts stealHalvesAfterTheVersion(boolean highFirst, boolean ownTotal) {
        return msr((ram, offered) -> new StealTimeMsr(ram, offered) {
            private long total;

            @Override
            protected long readSteal(long gpa) {
                return ownTotal ? total : super.readSteal(gpa);
            }

            @Override
            public void update(long runDelayNanos) {
                if (!enabled() || !inGuestRam(structureAddress())) {
                    return;
                }
                long gpa = structureAddress();
                clearPreempted(gpa);
                int version = beginUpdate(gpa, readVersion(gpa));
                long steal = readSteal(gpa) + stealDelta(runDelayNanos - lastSteal);
                lastSteal = runDelayNanos;
                total = steal;
                endUpdate(gpa, version);                                 // even again...
                int first = highFirst ? STEAL + 4 : STEAL;
                int second = highFirst ? STEAL : STEAL + 4;
                ram.putInt(gpa + first, (int) (highFirst ? steal >>> 32 : steal));    // ...then one half
                preemptedHere();
                ram.putInt(gpa + second, (int) (highFirst ? steal : steal >>> 32));   // and the other
            }
        });
    }

    /** The hypervisor thread loses the CPU here for a moment: it yields, then is busy for 2 µs. */
    private static void preemptedHere() {
        Thread.yield();
        spin(2_000);
    }

    /**
     * Busy for {@code nanos} (the thread keeps its CPU), after the stores made so far are visible
     * (a release store alone may be sunk past the spin by the JIT, which closes the window).
     */
    static void spin(long nanos) {
        java.lang.invoke.VarHandle.fullFence();
        long until = System.nanoTime() + nanos;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    /** One MSR object per VM (same guest RAM), handed to every vCPU. */
    private static ReferenceParts sharedMsr() {
        Map<GuestRam, StealTimeMsr> vms = new IdentityHashMap<>();
        return msr((ram, offered) -> {
            synchronized (vms) {
                return vms.computeIfAbsent(ram, r -> new StealTimeMsr(r, offered));
            }
        });
    }

    /** All MSRs of a VM (same guest RAM) write to the address of the first one that was enabled. */
    private static ReferenceParts sharedStructure() {
        Map<GuestRam, List<SharedMsr>> vms = new IdentityHashMap<>();
        return msr((ram, offered) -> {
            synchronized (vms) {
                List<SharedMsr> msrs = vms.computeIfAbsent(ram, r -> new ArrayList<>());
                SharedMsr m = new SharedMsr(ram, offered, msrs);
                msrs.add(m);
                return m;
            }
        });
    }

    private static final class SharedMsr extends StealTimeMsr {
        private final List<SharedMsr> vm;
        private long firstEnabledAt;

        SharedMsr(GuestRam ram, boolean offered, List<SharedMsr> vm) {
            super(ram, offered);
            this.vm = vm;
        }

        @Override
        public MsrResult write(long value) {
            MsrResult r = super.write(value);
            if (!r.faulted() && enabled()) {
                firstEnabledAt = System.nanoTime();
            }
            return r;
        }

        @Override
        protected long structureAddress() {
            SharedMsr first = this;
            for (SharedMsr m : vm) {
                if (m.enabled() && (!first.enabled() || m.firstEnabledAt < first.firstEnabledAt)) {
                    first = m;
                }
            }
            return first.ownAddress();
        }

        private long ownAddress() {
            return msrValue & ADDRESS_BITS;
        }
    }
}
