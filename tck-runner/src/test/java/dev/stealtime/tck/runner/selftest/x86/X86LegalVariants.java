package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.StealTimeMsr;
import dev.stealtime.tck.runner.reference.X86ReferenceVcpu;
import dev.stealtime.tck.runner.selftest.LegalVariant;
import dev.stealtime.tck.spi.MsrResult;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.runner.selftest.x86.X86FaultyVariants.msr;
import static dev.stealtime.tck.runner.selftest.x86.X86FaultyVariants.vcpu;

/**
 * The x86 legal hypervisors, the mirror of {@link X86FaultyVariants}: each is the reference using
 * one freedom seed 000 leaves open, with the sentence that allows it, and the levels at which it is
 * legal. Every rule of those levels must PASS against each.
 */
public final class X86LegalVariants {

    static final String INTERVAL = "The interval between updates of this structure is arbitrary and implementation-dependent.";
    static final String ANY_TIME = "The hypervisor may update this structure at any time it sees fit until anything with bit0 == 0 is written to it.";
    static final String STEAL = "steal: the amount of time in which this vCPU did not run, in nanoseconds.";
    /** Not updating on every entry is legal, but X86-UPDATE-EVERY-ENTRY (linux-abi) is what Linux does. */
    private static final String[] NOT_LINUX_SCHEDULE = {Level.REQUIRED_GROUP, Level.ADVISORY_GROUP};

    private X86LegalVariants() {
    }

    /** Updates only when its timer ticks; a guest entry only clears {@code preempted}. */
    private static final class TimerMsr extends StealTimeMsr {
        TimerMsr(GuestRam ram, boolean offered) {
            super(ram, offered);
        }

        @Override
        public void update(long runDelayNanos) {
            if (enabled() && inGuestRam(structureAddress())) {
                clearPreempted(structureAddress());
            }
        }

        void tick(long runDelayNanos) {
            super.update(runDelayNanos);
        }
    }

    /**
     * The version comes from a counter the hypervisor keeps (+2 per update from 0), not from guest
     * memory: legal at required, and the faulty {@code version-kept-in-hypervisor} at linux-abi
     * (X86-MIGRATION-VERSION: a migrated guest's version restarts).
     */
    static ReferenceParts ownVersionCounter() {
        return msr((ram, offered) -> new StealTimeMsr(ram, offered) {
            private int counter;

            @Override
            protected int readVersion(long gpa) {
                return counter;
            }

            @Override
            protected void writeVersion(long gpa, int version) {
                counter = version;
                super.writeVersion(gpa, version);
            }
        });
    }

    /** Steal is a total the hypervisor keeps and writes; it never reads guest memory back. */
    static class OwnTotalMsr extends StealTimeMsr {
        protected long total;

        OwnTotalMsr(GuestRam ram, boolean offered) {
            super(ram, offered);
        }

        @Override
        protected long readSteal(long gpa) {
            return total;
        }

        @Override
        protected void writeSteal(long gpa, long steal) {
            total = steal;
            super.writeSteal(gpa, steal);
        }
    }

    /** Updates on every third guest entry only; the skipped entries' steal is published at the next update. */
    static ReferenceParts everyThirdEntry() {
        return msr((ram, offered) -> new StealTimeMsr(ram, offered) {
            private long entries;

            @Override
            public void update(long runDelayNanos) {
                if (++entries % 3 == 0) {
                    super.update(runDelayNanos);
                } else if (enabled() && inGuestRam(structureAddress())) {
                    clearPreempted(structureAddress());
                }
            }
        });
    }

    public static List<LegalVariant> all() {
        List<LegalVariant> v = new ArrayList<>();

        // ---- when updates happen -------------------------------------------------------------
        v.add(LegalVariant.of("updates-every-third-entry", "the structure is updated on every third guest entry only (steal of the "
                        + "others is published at the next update; preempted is still cleared on every entry)", INTERVAL,
                everyThirdEntry()).legalAt(NOT_LINUX_SCHEDULE));
        v.add(LegalVariant.of("updates-on-a-run-time-timer", "no update on guest entry: a timer publishes steal after every 4 ms "
                        + "of guest run time (idle, CPUID, RDMSR and WRMSR entries bring none; preempted is cleared on every entry)", ANY_TIME,
                new ReferenceParts() {
                    @Override
                    public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
                        return new TimerMsr(ram, offered);
                    }

                    @Override
                    public X86ReferenceVcpu x86Vcpu(int index, StealTimeMsr msr, boolean offered) {
                        return new X86ReferenceVcpu(index, msr, offered) {
                            private long runNanos;

                            @Override
                            public void run(Duration d) {
                                super.run(d);
                                runNanos += d.toNanos();
                                if (runNanos >= 4_000_000) {
                                    runNanos = 0;
                                    ((TimerMsr) msr).tick(stealSourceNanos());
                                }
                            }
                        };
                    }
                }).legalAt(NOT_LINUX_SCHEDULE));
        v.add(LegalVariant.of("updates-during-preemption", "besides every entry, the structure is also updated halfway through each "
                        + "preemption, while the vCPU is off its CPU (the steal accrued so far)", ANY_TIME,
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public void preempt(Duration d) {
                        super.preempt(d.dividedBy(2));
                        m.update(stealSourceNanos());
                        super.preempt(d.minus(d.dividedBy(2)));
                    }
                })));
        v.add(LegalVariant.of("host-write-fills-at-once", "a VMM write of gpa | 1 (KVM_SET_MSRS) fills the structure at once, "
                        + "before the vCPU runs again", ANY_TIME,
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public boolean hostSetMsr(int index, long value) {
                        boolean ok = super.hostSetMsr(index, value);
                        if (ok && m.enabled()) {
                            m.update(stealSourceNanos());
                        }
                        return ok;
                    }
                })));

        // ---- how an update is written --------------------------------------------------------
        v.add(LegalVariant.of("steal-halves-inside-protocol", "steal is stored as two 32-bit halves while the version is odd, "
                        + "with 1 µs between the two stores", "version: a sequence counter. In other words, guest "
                        + "has to check this field before and after grabbing time information and make sure they are both equal and even. "
                        + "An odd version indicates an in-progress update.",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void writeSteal(long gpa, long steal) {
                        ram.putInt(gpa + STEAL, (int) steal);
                        long until = System.nanoTime() + 1_000;
                        while (System.nanoTime() < until) {
                            Thread.onSpinWait();
                        }
                        ram.putInt(gpa + STEAL + 4, (int) (steal >>> 32));
                    }
                })));
        v.add(LegalVariant.of("own-version-counter", "the version comes from a counter the hypervisor keeps (+2 per update from 0), "
                        + "not from the value in guest memory", "version: a sequence counter.",
                ownVersionCounter())
                // Linux reads the version back from guest memory, so a migrated guest's version continues (X86-MIGRATION-VERSION)
                .legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));

        // ---- what steal holds ----------------------------------------------------------------
        v.add(LegalVariant.of("own-accumulator", "steal is the total the hypervisor keeps since registration and writes "
                        + "(it never reads guest memory back); Linux accumulates in guest memory (X86-ACCUMULATES-IN-MEMORY, linux-abi)", STEAL,
                msr(OwnTotalMsr::new)).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("own-total-restarted-at-registration", "steal is a total the hypervisor keeps (never read back "
                        + "from guest memory) and restarts from 0 at every registration (each accepted write with bit 0 set)", STEAL,
                msr((ram, offered) -> new OwnTotalMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        MsrResult r = super.write(value);
                        if (!r.faulted() && enabled()) {
                            total = 0;
                        }
                        return r;
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("preemption-overruns", "a preemption lasts a quarter longer than asked (as on a busy host), "
                        + "and all of it is reported: the host measured it too", STEAL,
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    public void preempt(Duration d) {
                        super.preempt(d.plus(d.dividedBy(4)));
                    }
                })));
        v.add(LegalVariant.of("wake-up-waits-for-the-cpu", "after each halt the woken vCPU waits 100 µs for its CPU (runnable, "
                        + "not running: steal, measured by the host); the halted time itself is not steal",
                "Time during which the vcpu is idle, will not be reported as steal time.",
                vcpu((i, m, offered) -> new X86ReferenceVcpu(i, m, offered) {
                    @Override
                    protected void idleFor(Duration d) {
                        super.preempt(Duration.ofNanos(100_000));
                    }
                })));

        // ---- the structure's other bytes -----------------------------------------------------
        v.add(LegalVariant.of("no-preempted-byte", "byte 16 (Linux's preempted) is never written: seed 000's structure has "
                        + "no such field", "struct kvm_steal_time { __u64 steal; __u32 version; __u32 flags; __u32 pad[12]; }",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    protected void clearPreempted(long gpa) {
                    }

                    @Override
                    public void markPreempted() {
                    }
                })));
        v.add(LegalVariant.of("writes-padding", "every update stores the hypervisor's own update count in pad (bytes 24..31); "
                        + "X86-PAD-UNTOUCHED (advisory) asks otherwise", "struct kvm_steal_time { __u64 steal; __u32 version; "
                        + "__u32 flags; __u32 pad[12]; }",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    private long updates;

                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        ram.putLong(gpa + 24, ++updates);
                        super.endUpdate(gpa, oddVersion);
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.LINUX_ABI_GROUP));

        // ---- registration ----------------------------------------------------------------------
        v.add(LegalVariant.of("rejects-enable-outside-ram", "a value with bit 0 set whose 64 bytes are not in guest RAM is rejected "
                        + "(#GP / 0 MSRs written); Linux accepts it and never writes (X86-RDMSR-READBACK, linux-abi, reads it back)",
                "data: 64-byte alignment physical address of a memory area which must be in guest RAM, plus an enable bit in bit 0.",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        if (offered && (value & ENABLE) != 0 && !hasReservedBits(value) && !ram.contains(value & ADDRESS_BITS, SIZE)) {
                            return MsrResult.gp();
                        }
                        return super.write(value);
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("rejects-any-value-outside-ram", "every value whose 64 bytes are not in guest RAM is rejected, a disable "
                        + "value too (#GP / 0 MSRs written): Linux before v5.6 (kvm_gfn_to_hva_cache_init in the WRMSR; replayed as "
                        + "x86-fairness-pre-5.6-gp-outside-memslots); Linux today accepts it (X86-RDMSR-READBACK, linux-abi, reads it back)",
                "data: 64-byte alignment physical address of a memory area which must be in guest RAM, plus an enable bit in bit 0.",
                msr((ram, offered) -> new StealTimeMsr(ram, offered) {
                    @Override
                    public MsrResult write(long value) {
                        if (offered && !hasReservedBits(value) && value != 0 && !ram.contains(value & ADDRESS_BITS, SIZE)) {
                            return MsrResult.gp();
                        }
                        return super.write(value);
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        // ---- dirty logging (a legal host MSR write that fills at once is host-write-fills-at-once above) ----
        v.add(LegalVariant.of("dirty-log-64k-granules", "the dirty log is kept in 64 KiB granules (a host with 64 KiB pages), "
                        + "declared through GuestMemory.dirtyLogGranule()", "KVM api.rst: KVM_GET_DIRTY_LOG reports pages of the host's page size",
                dev.stealtime.tck.runner.selftest.RamVariants.granule64k()));
        return v;
    }
}
