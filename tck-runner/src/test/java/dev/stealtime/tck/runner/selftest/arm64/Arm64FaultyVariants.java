package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.runner.reference.Arm64ReferenceVcpu;
import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.PvTimeAttribute;
import dev.stealtime.tck.runner.reference.PvTimeHypercalls;
import dev.stealtime.tck.runner.reference.PvTimeRegion;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.StolenTime;
import dev.stealtime.tck.runner.selftest.EverySecondUpdate;
import dev.stealtime.tck.runner.selftest.FaultyVariant;
import dev.stealtime.tck.runner.selftest.RamVariants;
import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.MemoryRegion;
import dev.stealtime.tck.spi.Vcpu;
import dev.stealtime.tck.support.Errno;
import dev.stealtime.tck.support.GuardBytes;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.NOT_SUPPORTED;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_FEATURES;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_ST;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.SUCCESS;
import static dev.stealtime.tck.runner.reference.PvTimeRegion.UART;

/**
 * The arm64 faulty hypervisors: each is the reference with exactly one defect, built by swapping
 * one piece (StolenTime, PvTimeAttribute, PvTimeHypercalls or Arm64ReferenceVcpu) and overriding
 * one method. {@code mustFail} names the rule the defect violates; {@code mayAlsoFail} lists the
 * rules that legitimately fail too, because the same defect also breaks what they state.
 */
public final class Arm64FaultyVariants {

    private static final int CTRL = Arm64Vcpu.PVTIME_CTRL;
    private static final long IPA = Arm64Vcpu.PVTIME_IPA;
    private static final int ENXIO = Errno.ENXIO.negative();
    private static final int EINVAL = Errno.EINVAL.negative();
    private static final int EEXIST = Errno.EEXIST.negative();

    private Arm64FaultyVariants() {
    }

    public static List<FaultyVariant> all() {
        List<FaultyVariant> v = new ArrayList<>();
        vmmAttribute(v);
        hypercalls(v);
        structure(v);
        accounting(v);
        perVcpu(v);
        migration(v);
        placement(v);
        return v;
    }

    // ------------------------------------------------------------------ the VMM attribute

    private static void vmmAttribute(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("has-attr-enxio-when-offered", "HAS_DEVICE_ATTR(PVTIME_IPA) answers -ENXIO although stolen time is implemented",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int has(int group, long attr) {
                        return ENXIO;
                    }
                }), "ARM-HAS-ATTR"));
        v.add(FaultyVariant.of("has-attr-zero-when-not-offered", "HAS_DEVICE_ATTR(PVTIME_IPA) answers 0 although PV time is not offered",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int has(int group, long attr) {
                        return group == CTRL && attr == IPA ? 0 : ENXIO;
                    }
                }), "ARM-HAS-ATTR"));
        v.add(FaultyVariant.of("set-accepted-when-not-offered", "SET_DEVICE_ATTR(PVTIME_IPA) works although PV time is not offered",
                attribute((ram, reallyOffered, st) -> new PvTimeAttribute(ram, true, st) {
                    // built as if offered; only HAS and GET still look at the VM
                    @Override
                    public int has(int group, long attr) {
                        return reallyOffered ? super.has(group, attr) : ENXIO;
                    }

                    @Override
                    public Arm64Vcpu.AttrResult get(int group, long attr) {
                        return reallyOffered ? super.get(group, attr) : new Arm64Vcpu.AttrResult(ENXIO, 0);
                    }
                }), "ARM-ENXIO-UNSUPPORTED"));
        v.add(FaultyVariant.of("get-answers-when-not-offered", "GET_DEVICE_ATTR(PVTIME_IPA) answers all-ones although PV time is not offered",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public Arm64Vcpu.AttrResult get(int group, long attr) {
                        return group == CTRL && attr == IPA ? new Arm64Vcpu.AttrResult(0, stolenTime.base()) : super.get(group, attr);
                    }
                }), "ARM-ENXIO-UNSUPPORTED"));
        v.add(FaultyVariant.of("unknown-attr-einval", "SET_DEVICE_ATTR of an unknown PVTIME_CTRL attribute answers -EINVAL, not -ENXIO",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        return offered && group == CTRL && attr != IPA ? EINVAL : super.set(group, attr, ipa);
                    }
                }), "ARM-ENXIO-UNKNOWN-ATTR"));
        v.add(FaultyVariant.of("attr-id-truncated-to-32-bits", "the attribute id is compared as a 32-bit int, so attr 1<<32 is taken for PVTIME_IPA",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    protected boolean known(int group, long attr) {
                        return offered && group == CTRL && (int) attr == IPA;
                    }
                }), "ARM-ENXIO-UNKNOWN-ATTR"));
        v.add(FaultyVariant.of("value-checked-before-attribute", "the IPA's alignment is checked before the attribute is known to exist (misaligned value: -EINVAL, not -ENXIO)",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        return aligned(ipa) ? super.set(group, attr, ipa) : EINVAL;
                    }
                }), "ARM-ENXIO-UNKNOWN-ATTR", "ARM-ENXIO-UNSUPPORTED"));
        v.add(FaultyVariant.of("alignment-8-bytes", "checks 8-byte alignment instead of 64-byte",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    protected boolean aligned(long ipa) {
                        return (ipa & 7) == 0;
                    }
                }), "ARM-EINVAL-ALIGN")
                // a misaligned-by-8 IPA on a configured vCPU then reaches the already-set check
                .mayAlsoFail("ARM-ERROR-PRECEDENCE"));
        v.add(FaultyVariant.of("misaligned-rounded-down", "a misaligned IPA is accepted and rounded down to 64 bytes",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        return super.set(group, attr, known(group, attr) ? ipa & ~63L : ipa);
                    }
                }), "ARM-EINVAL-ALIGN")
                // rounded down, a misaligned IPA (all-ones included) on a configured vCPU is answered -EEXIST
                .mayAlsoFail("ARM-ERROR-PRECEDENCE", "ARM-IPA-PERMANENT"));
        v.add(FaultyVariant.of("misaligned-recorded-despite-einval", "a misaligned IPA in RAM answers -EINVAL but is recorded (rounded down) anyway",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        if (known(group, attr) && !aligned(ipa) && !stolenTime.configured() && inGuestMemory(ipa & ~63L)) {
                            stolenTime.setBase(ipa & ~63L);
                            return EINVAL;
                        }
                        return super.set(group, attr, ipa);
                    }
                }), "ARM-EINVAL-ALIGN"));
        v.add(FaultyVariant.of("alignment-unchecked-above-4g", "alignment is only checked for IPAs below 4 GiB",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    protected boolean aligned(long ipa) {
                        return ipa >= 1L << 32 || (ipa & 63) == 0;
                    }
                }), "ARM-EINVAL-ALIGN"));
        v.add(FaultyVariant.of("accepts-ipa-outside-ram", "an aligned IPA is accepted without checking that it lies in a memory region",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    protected boolean inGuestMemory(long ipa) {
                        return true;
                    }
                }), "ARM-EINVAL-OUTSIDE-MEMORY"));
        v.add(FaultyVariant.of("hole-counted-as-ram", "only checks that the IPA is below the end of the highest memory region (holes count as RAM)",
                new VmScopedParts() {
                    @Override
                    public PvTimeAttribute pvTimeAttribute(GuestRam ram, boolean offered, StolenTime st) {
                        long end = ramEnd;
                        return new PvTimeAttribute(ram, offered, st) {
                            @Override
                            protected boolean inGuestMemory(long ipa) {
                                return ipa >= 0 && ipa + StolenTime.SIZE <= end;
                            }
                        };
                    }
                }, "ARM-EINVAL-OUTSIDE-MEMORY"));
        v.add(FaultyVariant.of("rejects-last-64-bytes-of-ram", "off by one: the structure must fit with a byte to spare, so the last 64 bytes of a region are refused",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    protected boolean inGuestMemory(long ipa) {
                        return ram.contains(ipa, StolenTime.SIZE + 1);
                    }
                }), "ARM-EINVAL-OUTSIDE-MEMORY"));
        v.add(FaultyVariant.of("second-set-einval", "a second set on the same vCPU answers -EINVAL instead of -EEXIST",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        int r = super.set(group, attr, ipa);
                        return r == EEXIST ? EINVAL : r;
                    }
                }), "ARM-EEXIST"));
        v.add(FaultyVariant.of("second-set-overwrites", "a second set answers -EEXIST but moves the structure to the new IPA",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        if (known(group, attr) && aligned(ipa) && stolenTime.configured() && inGuestMemory(ipa)) {
                            stolenTime.setBase(ipa);
                            return EEXIST;
                        }
                        return super.set(group, attr, ipa);
                    }
                }), "ARM-EEXIST")
                // moving the IPA is exactly what "cannot be changed" forbids
                .mayAlsoFail("ARM-IPA-PERMANENT"));
        v.add(FaultyVariant.of("eexist-before-einval", "checks already-set before alignment: a misaligned IPA on a configured vCPU answers -EEXIST",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        return known(group, attr) && stolenTime.configured() ? EEXIST : super.set(group, attr, ipa);
                    }
                }), "ARM-ERROR-PRECEDENCE")
                // all-ones on a configured vCPU is misaligned too: -EEXIST instead of the -EINVAL the rule names
                .mayAlsoFail("ARM-IPA-PERMANENT"));
        v.add(FaultyVariant.of("ipa-per-vm", "one IPA flag per VM: once any vCPU has a structure, the others answer -EEXIST",
                new VmScopedParts() {
                    @Override
                    public PvTimeAttribute pvTimeAttribute(GuestRam ram, boolean offered, StolenTime st) {
                        List<StolenTime> siblings = structures;
                        return new PvTimeAttribute(ram, offered, st) {
                            @Override
                            public int set(int group, long attr, long ipa) {
                                if (known(group, attr) && aligned(ipa) && siblings.stream().anyMatch(StolenTime::configured)) {
                                    return EEXIST;
                                }
                                return super.set(group, attr, ipa);
                            }
                        };
                    }
                }, "ARM-PER-VCPU-IPA")
                // their multi-vCPU setups cannot give a second vCPU its structure
                .mayAlsoFail("ARM-PER-VCPU", "ARM-ST-RETURNS-OWN-IPA")
                // nor can a whole VMM place a second vCPU's structure: its VM does not open
                .mayAlsoFail("ARM-REGION-RESERVED", "ARM-REGION-DISTINCT"));
        v.add(FaultyVariant.of("get-zero-before-set", "GET_DEVICE_ATTR answers 0 instead of all-ones before an IPA is set",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public Arm64Vcpu.AttrResult get(int group, long attr) {
                        Arm64Vcpu.AttrResult r = super.get(group, attr);
                        return r.errno() == 0 && !stolenTime.configured() ? new Arm64Vcpu.AttrResult(0, 0) : r;
                    }
                }), "ARM-GET-ATTR"));
        v.add(FaultyVariant.of("all-ones-unsets", "setting all-ones is taken as \"unset\": answers 0 and forgets the IPA",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        if (known(group, attr) && ipa == StolenTime.NO_IPA) {
                            stolenTime.setBase(StolenTime.NO_IPA);
                            return 0;
                        }
                        return super.set(group, attr, ipa);
                    }
                }), "ARM-IPA-PERMANENT"));
    }

    // ------------------------------------------------------------------ the hypercalls

    private static void hypercalls(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("smccc-version-1-0", "SMCCC_VERSION answers 1.0 (0x10000), which has no SMCCC_ARCH_FEATURES, although ARCH_FEATURES is served",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long smcccVersion() {
                        return 0x10000;
                    }
                }), "ARM-ARCH-FEATURES"));
        v.add(FaultyVariant.of("arch-features-not-supported", "SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) answers NOT_SUPPORTED although PV time is offered",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long archFeatures(int queried) {
                        return NOT_SUPPORTED;
                    }
                }), "ARM-ARCH-FEATURES"));
        v.add(FaultyVariant.of("arch-features-only-after-set", "SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) answers SUCCESS only once the vCPU's IPA is set",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long archFeatures(int queried) {
                        return stolenTime.configured() ? super.archFeatures(queried) : NOT_SUPPORTED;
                    }
                }), "ARM-ARCH-FEATURES"));
        v.add(FaultyVariant.of("arch-features-ignores-offered", "SMCCC_ARCH_FEATURES(PV_TIME_FEATURES) answers SUCCESS although PV time is not offered",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long archFeatures(int queried) {
                        return queried == PV_TIME_FEATURES ? SUCCESS : NOT_SUPPORTED;
                    }
                }), "ARM-ARCH-FEATURES"));
        v.add(FaultyVariant.of("features-st-unsupported-after-set", "PV_TIME_FEATURES(PV_TIME_ST) answers NOT_SUPPORTED even once the IPA is set",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return queried == PV_TIME_ST ? NOT_SUPPORTED : super.features(queried);
                    }
                }), "ARM-FEATURES-ST"));
        v.add(FaultyVariant.of("features-st-success-before-set", "PV_TIME_FEATURES(PV_TIME_ST) answers SUCCESS before the vCPU has a structure",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return queried == PV_TIME_ST ? SUCCESS : super.features(queried);
                    }
                }), "ARM-FEATURES-ST-NEEDS-IPA"));
        v.add(FaultyVariant.of("features-from-host-capability", "PV_TIME_FEATURES answers from what the host supports, not from this VM and vCPU",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    public long call(int functionId, long[] args, long runDelayNanos) {
                        if (functionId == PV_TIME_FEATURES) {
                            int q = args.length > 0 ? (int) args[0] : 0;
                            return q == PV_TIME_ST || q == PV_TIME_FEATURES ? SUCCESS : NOT_SUPPORTED;
                        }
                        return super.call(functionId, args, runDelayNanos);
                    }
                }), "ARM-FEATURES-ST", "ARM-FEATURES-SELF", "ARM-FEATURES-ST-NEEDS-IPA"));
        v.add(FaultyVariant.of("features-self-unsupported", "PV_TIME_FEATURES(PV_TIME_FEATURES) answers NOT_SUPPORTED even once the IPA is set",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return queried == PV_TIME_FEATURES ? NOT_SUPPORTED : super.features(queried);
                    }
                }), "ARM-FEATURES-SELF"));
        v.add(FaultyVariant.of("features-unknown-success", "once the IPA is set, PV_TIME_FEATURES answers SUCCESS for any function id",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return stolenTime.configured() ? SUCCESS : super.features(queried);
                    }
                }), "ARM-FEATURES-UNKNOWN"));
        v.add(FaultyVariant.of("features-ignores-smc64-bit", "PV_TIME_FEATURES ignores the SMC64 bit of the queried id: the SMC32 ids are reported supported",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return super.features(queried | 0x40000000);
                    }
                }), "ARM-FEATURES-UNKNOWN"));
        v.add(FaultyVariant.of("st-returns-vcpu0-ipa", "PV_TIME_ST answers vCPU 0's IPA on every configured vCPU",
                new VmScopedParts() {
                    @Override
                    public PvTimeHypercalls pvTimeHypercalls(boolean offered, StolenTime st) {
                        List<StolenTime> siblings = structures;
                        return new PvTimeHypercalls(offered, st) {
                            @Override
                            protected long stolenTimeAddress(long runDelayNanos) {
                                long own = super.stolenTimeAddress(runDelayNanos);
                                return own == NOT_SUPPORTED || !siblings.get(0).configured() ? own : siblings.get(0).base();
                            }
                        };
                    }
                }, "ARM-ST-RETURNS-OWN-IPA")
                // a guest finds its structure only through PV_TIME_ST: every vCPU is told the same 64 bytes
                .mayAlsoFail("ARM-REGION-DISTINCT"));
        v.add(FaultyVariant.of("st-returns-ipa-in-w0", "PV_TIME_ST returns the IPA in w0: only its lower 32 bits",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long stolenTimeAddress(long runDelayNanos) {
                        long r = super.stolenTimeAddress(runDelayNanos);
                        return r == NOT_SUPPORTED ? r : r & 0xffffffffL;
                    }
                }), "ARM-ST-RETURNS-OWN-IPA"));
        v.add(FaultyVariant.of("st-returns-zero-when-unconfigured", "PV_TIME_ST answers 0 (a null IPA) instead of NOT_SUPPORTED when no structure is configured",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    public long call(int functionId, long[] args, long runDelayNanos) {
                        return functionId == PV_TIME_ST && !stolenTime.configured() ? 0 : super.call(functionId, args, runDelayNanos);
                    }
                }), "ARM-ST-NOT-SUPPORTED"));
        v.add(FaultyVariant.of("answers-smc32-ids", "the SMC32 function ids 0x85000020/0x85000021 are served like their SMC64 forms",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    private int smc64(int id) {
                        return (id & 0xff000000) == 0x85000000 ? id | 0x40000000 : id;
                    }

                    @Override
                    public long call(int functionId, long[] args, long runDelayNanos) {
                        return super.call(smc64(functionId), args, runDelayNanos);
                    }

                    @Override
                    protected long archFeatures(int queried) {
                        return super.archFeatures(smc64(queried));
                    }
                }), "ARM-SMC64-ONLY"));
    }

    // ------------------------------------------------------------------ the structure

    private static void structure(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("revision-one", "every update stamps revision 1",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(stolen);
                        ram.putInt(base + REVISION, 1);
                    }
                }), "ARM-REVISION-ZERO"));
        v.add(FaultyVariant.of("attributes-nonzero", "every update sets attribute bit 0",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(stolen);
                        ram.putInt(base + ATTRIBUTES, 1);
                    }
                }), "ARM-ATTRIBUTES-ZERO"));
        v.add(FaultyVariant.of("big-endian-stolen-time", "stolen_time is stored (and read back) big-endian",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected long readStolenTime() {
                        return Long.reverseBytes(super.readStolenTime());
                    }

                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(Long.reverseBytes(stolen));
                    }
                }), "ARM-LITTLE-ENDIAN")
                // a little-endian guest reads nonsense, so every amount it checks is wrong
                .mayAlsoFail("ARM-STEAL-ACCOUNTS", "ARM-MONOTONIC", "ARM-ATOMIC-UPDATE", "ARM-ST-REINITIALISES")
                // it reads the little-endian value in guest memory (a restored one too) as big-endian: it does not continue from it
                .mayAlsoFail("ARM-ACCUMULATES-IN-MEMORY", "ARM-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("word-swapped-stolen-time", "stolen_time is stored with its two 32-bit words swapped (upper word at offset 8)",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected long readStolenTime() {
                        return Long.rotateLeft(super.readStolenTime(), 32);
                    }

                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(Long.rotateLeft(stolen, 32));
                    }
                }), "ARM-LITTLE-ENDIAN")
                .mayAlsoFail("ARM-STEAL-ACCOUNTS", "ARM-MONOTONIC", "ARM-ATOMIC-UPDATE", "ARM-ST-REINITIALISES")
                // it reads the value in guest memory (a restored one too) with its words swapped: it does not continue from it
                .mayAlsoFail("ARM-ACCUMULATES-IN-MEMORY", "ARM-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        // ---- defects that alternate (issue 27): each shows on every second update only, so a test judging two
        // snapshots with an even number of updates between them passes it; the rule must judge every update
        v.add(FaultyVariant.of("stolen-time-swapped-every-update", "stolen_time is read back little-endian but stored big-endian, "
                        + "accumulating in guest memory: each update swaps the bytes again, so after an update with nothing to add it reads right",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(Long.reverseBytes(stolen));
                    }
                }), "ARM-LITTLE-ENDIAN")
                .mayAlsoFail("ARM-STEAL-ACCOUNTS", "ARM-MONOTONIC", "ARM-ATOMIC-UPDATE", "ARM-ST-REINITIALISES")
                .mayAlsoFail("ARM-ACCUMULATES-IN-MEMORY", "ARM-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("attributes-set-every-second-update", "every second update stores attributes 1, the others 0",
                everySecondUpdate((ram, base, second) -> ram.putInt(base + StolenTime.ATTRIBUTES, second ? 1 : 0)), "ARM-ATTRIBUTES-ZERO"));
        v.add(FaultyVariant.of("revision-one-every-second-update", "every second update stamps revision 1, the others 0 (the structure's "
                        + "version field alternates)",
                everySecondUpdate((ram, base, second) -> ram.putInt(base + StolenTime.REVISION, second ? 1 : 0)), "ARM-REVISION-ZERO"));
        v.add(FaultyVariant.of("writes-beyond-64-bytes", "PV_TIME_ST clears 128 bytes: the 64 after the structure too",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    public long init(long runDelayNanos) {
                        long ipa = super.init(runDelayNanos);
                        if (ram.contains(base + SIZE, SIZE)) {
                            ram.zero(base + SIZE, SIZE);
                        }
                        return ipa;
                    }
                }), "ARM-WRITES-IN-BOUNDS")
                // what it writes past the structure lies in the next page when the structure ends a page: that page is dirtied
                .mayAlsoFail("ARM-DIRTY-ONLY-STRUCTURE"));
        // a guard with one pattern cannot see a write of the value it holds: these write exactly the
        // canary's own byte, which only the second, complemented pass sees
        v.add(FaultyVariant.of("stray-write-of-the-canary-value", "each update also stores, in the byte after the structure, the very byte the TCK's canary holds there",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(stolen);
                        if (ram.contains(base + SIZE, 1)) {
                            ram.putByte(base + SIZE, GuardBytes.pattern(base + SIZE));
                        }
                    }
                }), "ARM-WRITES-IN-BOUNDS")
                .mayAlsoFail("ARM-DIRTY-ONLY-STRUCTURE"));
        v.add(FaultyVariant.of("reserved-write-of-the-canary-value", "each update stores 0xa5, the TCK's canary for bytes 16..63, in byte 16",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        super.writeStolenTime(stolen);
                        ram.putByte(base + 16, (byte) 0xA5);
                    }
                }), "ARM-RESERVED-UNTOUCHED"));
        v.add(FaultyVariant.of("st-does-not-zero", "PV_TIME_ST restarts the count but leaves the structure's bytes as they were",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    public long init(long runDelayNanos) {
                        lastSteal = runDelayNanos;
                        return base;
                    }
                }), "ARM-ST-REINITIALISES"));
        // legal at required and linux-abi: Arm64LegalVariants runs it as "reserved-bytes-used"
        v.add(FaultyVariant.of("update-stamps-reserved-bytes", "every update also stores a count of updates in bytes 16..23 (beyond the 16 meaningful bytes)",
                stampsReservedBytes(), "ARM-RESERVED-UNTOUCHED"));
        v.add(FaultyVariant.of("st-zeroes-only-16-bytes", "PV_TIME_ST zeroes only the 16 meaningful bytes, not the 64 (Linux zeroes all 64)",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    public long init(long runDelayNanos) {
                        lastSteal = runDelayNanos;
                        ram.zero(base, 16);
                        return base;
                    }
                }), "ARM-ST-REINITIALISES"));
        v.add(FaultyVariant.of("st-counts-from-vcpu-start", "PV_TIME_ST zeroes the structure but keeps counting from the vCPU's creation",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    public long init(long runDelayNanos) {
                        return super.init(0);
                    }
                }), "ARM-ST-REINITIALISES"));
    }

    // ------------------------------------------------------------------ where a whole VMM places the structures

    private static void placement(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("region-in-ram", "the VMM places the structures inside RAM it gives the guest (a memory node), reserving nothing",
                region(spec -> new PvTimeRegion(spec) {
                    @Override
                    public long base() {
                        return dev.stealtime.tck.support.GuestLayout.MID.gpa() + 0x8000;
                    }
                }), "ARM-REGION-RESERVED"));
        v.add(FaultyVariant.of("region-over-device", "the VMM places the structures over a device's registers (its PL011, in the device tree)",
                region(spec -> new PvTimeRegion(spec) {
                    @Override
                    public long base() {
                        return UART;
                    }
                }), "ARM-REGION-RESERVED"));
        v.add(FaultyVariant.of("structures-shared", "the VMM gives every vCPU the same structure (its region's first 64 bytes)",
                region(spec -> new PvTimeRegion(spec) {
                    @Override
                    public long ipa(int index) {
                        return base();
                    }
                }), "ARM-REGION-DISTINCT"));
        v.add(FaultyVariant.of("structures-32-bytes-apart", "the VMM places the structures 32 bytes apart, overlapping their neighbours "
                        + "(and every second one misaligned, which this kernel accepts)",
                new ReferenceParts() {
                    @Override
                    public PvTimeRegion pvTimeRegion(dev.stealtime.tck.spi.VmSpec spec) {
                        return new PvTimeRegion(spec) {
                            @Override
                            public long ipa(int index) {
                                return base() + 32L * index;
                            }
                        };
                    }

                    @Override
                    public PvTimeAttribute pvTimeAttribute(GuestRam ram, boolean offered, StolenTime st) {
                        return new PvTimeAttribute(ram, offered, st) {
                            // this kernel takes a misaligned IPA from its VMM's region (and only there)
                            @Override
                            protected boolean aligned(long ipa) {
                                return super.aligned(ipa) || (ipa >= PvTimeRegion.BASE && ipa < PvTimeRegion.BASE + PvTimeRegion.SIZE);
                            }
                        };
                    }
                }, "ARM-REGION-DISTINCT"));
    }

    /** The reference as a whole VMM with another placement ({@link ReferenceParts#pvTimeRegion}). */
    static ReferenceParts region(java.util.function.Function<dev.stealtime.tck.spi.VmSpec, PvTimeRegion> region) {
        return new ReferenceParts() {
            @Override
            public PvTimeRegion pvTimeRegion(dev.stealtime.tck.spi.VmSpec spec) {
                return region.apply(spec);
            }
        };
    }

    // ------------------------------------------------------------------ migration, dirty log, memory that moves

    private static void migration(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("restore-forgets-pvtime-ipa", "the VMM's own save and restore carries guest memory but does not set "
                        + "the PV-time IPA again on the restored vCPU",
                new ReferenceParts() {
                    @Override
                    public void restore(Vcpu saved, Vcpu restored) {
                        // nothing: the restored vCPU has no IPA, so nothing is updated
                    }
                }, "ARM-RESTORE-CONTINUES")
                // its live migration carries what its save and restore does
                .mayAlsoFail("ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("live-migration-forgets-pvtime-ipa", "the VMM's live migration carries guest memory but does not "
                        + "set the PV-time IPA again on the destination vCPU (its save and restore does)",
                new ReferenceParts() {
                    @Override
                    public void migrate(Vcpu source, Vcpu destination) {
                        // nothing: the destination vCPU has no IPA, so nothing is updated
                    }
                }, "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("keeps-own-copy", "stolen time is accumulated in the hypervisor (Linux before v5.9), ignoring what guest memory holds",
                Arm64LegalVariants.ownAccumulator(), "ARM-ACCUMULATES-IN-MEMORY")
                // the destination's own total starts from zero: below the transferred stolen time
                .mayAlsoFail("ARM-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("set-zeroes-structure", "a successful SET_DEVICE_ATTR(PVTIME_IPA) zeroes the 64 bytes at the IPA "
                        + "(harmless on first boot; a restored IPA wipes the migrated stolen time)",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        int r = super.set(group, attr, ipa);
                        if (r == 0) {
                            ram.zero(ipa, StolenTime.SIZE);
                        }
                        return r;
                    }
                }), "ARM-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("publishes-on-save", "the VMM's GET_DEVICE_ATTR(PVTIME_IPA) first publishes the pending stolen time into the structure",
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    @Override
                    public AttrResult getDeviceAttr(int group, long a) {
                        st.update(hostStealMeasureNanos());
                        return super.getDeviceAttr(group, a);
                    }
                }), "ARM-MIGRATION-SOURCE-QUIET"));
        v.add(FaultyVariant.of("updates-not-dirty-logged", "the hypervisor's updates are not recorded in the dirty log",
                RamVariants.updatesNotLogged(), "ARM-DIRTY-LOGGED"));
        // a round of ARM-DIRTY-LOGGED once ended with two updates (preempt, settle), so the logged one covered the other
        v.add(FaultyVariant.of("every-second-update-not-dirty-logged", "every second update of stolen_time is not recorded in the dirty log",
                RamVariants.everySecondStolenTimeStoreNotLogged(), "ARM-DIRTY-LOGGED"));
        v.add(FaultyVariant.of("dirty-log-next-page", "each update also logs the page after the structure's as dirty",
                RamVariants.logsTheNextPageToo(), "ARM-DIRTY-ONLY-STRUCTURE"));
        v.add(FaultyVariant.of("stale-mapping", "the IPA's translation to host memory is cached and never revalidated: after the memory "
                + "slot moved, updates still go to the old backing", RamVariants.staleMapping(), "ARM-MEMORY-MOVES"));
    }

    // ------------------------------------------------------------------ accounting

    private static void accounting(List<FaultyVariant> v) {
        // with the two stores back to back a reader catches the window only sometimes (none at all on a
        // loaded 2-CPU machine in some runs): 2 µs between them make the self-test deterministic
        v.add(FaultyVariant.of("torn-32-bit-halves", "stolen_time is stored as two 32-bit stores, lower word first, 2 µs apart",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected void writeStolenTime(long stolen) {
                        storeInHalves(ram, base + STOLEN_TIME, stolen);
                    }
                }), "ARM-ATOMIC-UPDATE"));
        // the same two stores by a hypervisor that keeps its own total (found by an independent
        // implementation: with measured timing the TCK's seeds do not take, so no update carried and
        // the race passed); the race now drives the carries with long preemptions
        v.add(FaultyVariant.of("torn-halves-own-total", "keeps its own stolen-time total (never reads guest memory back) and stores it as "
                        + "two 32-bit stores, lower word first, 2 µs apart",
                stolenTime(ram -> new OwnTotal(ram) {
                    @Override
                    protected void store(long stolen) {
                        storeInHalves(ram, base + STOLEN_TIME, stolen);
                    }
                }), "ARM-ATOMIC-UPDATE")
                // an own total is not continued from a restored guest value
                .mayAlsoFail("ARM-ACCUMULATES-IN-MEMORY", "ARM-MIGRATION-CONTINUES")
                // the VMM's own save and restore, and its live migration, carry the registration and the structure as a migration does
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("wfi-wake-reinitialises", "waking from WFI re-initialises the structure, so stolen_time drops back to zero",
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    private boolean wasIdle;

                    @Override
                    protected void idleFor(Duration d) {
                        wasIdle = true;
                    }

                    @Override
                    protected void onScheduledIn(long runDelayNanos) {
                        super.onScheduledIn(runDelayNanos);
                        if (wasIdle && stolenTime().configured()) {
                            stolenTime().init(runDelayNanos);
                        }
                        wasIdle = false;
                    }
                }), "ARM-MONOTONIC")
                // re-initialising zeroes all 64 bytes, the reserved ones too; and an entry that waits
                // (WFI) right after a preemption shows 0, not the preemption
                .mayAlsoFail("ARM-RESERVED-UNTOUCHED", "ARM-UPDATED-BEFORE-RUN"));
        v.add(FaultyVariant.of("stolen-time-in-microseconds", "stolen_time counts microseconds, not nanoseconds",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return runDelayDeltaNanos / 1000;
                    }
                }), "ARM-STEAL-ACCOUNTS"));
        v.add(FaultyVariant.of("stolen-time-double-counted", "every nanosecond of run delay is added twice",
                stolenTime(ram -> new StolenTime(ram) {
                    @Override
                    protected long stealDelta(long runDelayDeltaNanos) {
                        return 2 * runDelayDeltaNanos;
                    }
                }), "ARM-STEAL-ACCOUNTS")
                // the race's ceiling is the host's measure: values above it could not have been written by a correct writer
                .mayAlsoFail("ARM-ATOMIC-UPDATE")
                // across a restore or a live migration too: the destination adds twice its own wait
                .mayAlsoFail("ARM-RESTORE-CONTINUES", "ARM-LIVE-MIGRATION-CONTINUES"));
        v.add(FaultyVariant.of("idle-counted", "time in WFI is counted as stolen",
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    @Override
                    protected void idleFor(Duration d) {
                        accountAsSteal(d.toNanos());
                    }
                }), "ARM-IDLE-EXCLUDED"));
        v.add(FaultyVariant.of("update-one-scheduling-late", "run delay is sampled when the vCPU is put and published at the next load: a preemption shows only after the vCPU ran once more",
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    private long sampledAtLastExit;

                    @Override
                    protected void onScheduledIn(long runDelayNanos) {
                        stolenTime().update(sampledAtLastExit);
                        sampledAtLastExit = runDelayNanos;
                    }
                }), "ARM-UPDATED-BEFORE-RUN"));
    }

    // ------------------------------------------------------------------ per vCPU

    private static void perVcpu(List<FaultyVariant> v) {
        v.add(FaultyVariant.of("steal-charged-vm-wide", "every vCPU's structure is fed the whole VM's run delay",
                new VmScopedParts() {
                    @Override
                    public Arm64ReferenceVcpu arm64Vcpu(int index, StolenTime st, PvTimeAttribute attr, PvTimeHypercalls hc) {
                        List<Object> siblings = vcpus;
                        VmWideVcpu vcpu = new VmWideVcpu(index, st, attr, hc, siblings);
                        siblings.add(vcpu);
                        return vcpu;
                    }
                }, "ARM-PER-VCPU"));
        v.add(FaultyVariant.of("st-reinitialises-every-vcpu", "PV_TIME_ST on one vCPU zeroes every vCPU's structure",
                new VmScopedParts() {
                    @Override
                    public PvTimeHypercalls pvTimeHypercalls(boolean offered, StolenTime st) {
                        List<StolenTime> siblings = structures;
                        GuestRam ram = this.ram;
                        return new PvTimeHypercalls(offered, st) {
                            @Override
                            protected long stolenTimeAddress(long runDelayNanos) {
                                long r = super.stolenTimeAddress(runDelayNanos);
                                for (StolenTime other : siblings) {
                                    if (other.configured()) {
                                        ram.zero(other.base(), StolenTime.SIZE);
                                    }
                                }
                                return r;
                            }
                        };
                    }
                }, "ARM-PER-VCPU"));
    }

    /** Feeds the sum of the VM's run delays to its own structure. */
    private static final class VmWideVcpu extends Arm64ReferenceVcpu {
        private final List<Object> siblings;

        VmWideVcpu(int index, StolenTime st, PvTimeAttribute attr, PvTimeHypercalls hc, List<Object> siblings) {
            super(index, st, attr, hc);
            this.siblings = siblings;
        }

        @Override
        protected void onScheduledIn(long runDelayNanos) {
            long total = 0;
            for (Object o : siblings) {
                total += ((VmWideVcpu) o).stealSourceNanos();
            }
            super.onScheduledIn(total);
        }
    }

    /** Two 32-bit stores, lower word first, 2 µs apart (a torn update). */
    static void storeInHalves(GuestRam ram, long gpa, long value) {
        ram.putInt(gpa, (int) value);
        // the first half is visible before the pause starts (a release store alone may be sunk past
        // the spin by the JIT, which closes the window: a real hypervisor's store is not)
        java.lang.invoke.VarHandle.fullFence();
        long until = System.nanoTime() + 2_000;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
        ram.putInt(gpa + 4, (int) (value >>> 32));
    }

    /**
     * stolen_time is a total the hypervisor keeps (restarted at PV_TIME_ST) and writes with
     * {@link #store}; it never reads guest memory back.
     */
    static class OwnTotal extends StolenTime {
        private long total;

        OwnTotal(GuestRam ram) {
            super(ram);
        }

        @Override
        public long init(long runDelayNanos) {
            total = 0;
            return super.init(runDelayNanos);
        }

        @Override
        protected long readStolenTime() {
            return total;
        }

        @Override
        protected final void writeStolenTime(long stolen) {
            total = stolen;
            store(stolen);
        }

        /** How the total reaches guest memory: one 64-bit store. */
        protected void store(long stolen) {
            super.writeStolenTime(stolen);
        }
    }

    /** Each update stores stolen_time as the reference does, then {@code stamp}s the structure, told whether it is an even-numbered update. */
    static ReferenceParts everySecondUpdate(EverySecondUpdate stamp) {
        return stolenTime(ram -> new StolenTime(ram) {
            private long updates;

            @Override
            protected void writeStolenTime(long stolen) {
                super.writeStolenTime(stolen);
                stamp.stamp(ram, base, ++updates % 2 == 0);
            }
        });
    }

    /** Every update also stores the hypervisor's own update count in bytes 16..23. */
    static ReferenceParts stampsReservedBytes() {
        return stolenTime(ram -> new StolenTime(ram) {
            private long updates;

            @Override
            protected void writeStolenTime(long stolen) {
                super.writeStolenTime(stolen);
                ram.putLong(base + 16, ++updates);
            }
        });
    }

    // ------------------------------------------------------------------ building parts

    interface AttributeMaker {
        PvTimeAttribute make(GuestRam ram, boolean offered, StolenTime stolenTime);
    }

    interface HypercallsMaker {
        PvTimeHypercalls make(boolean offered, StolenTime stolenTime);
    }

    interface StolenTimeMaker {
        StolenTime make(GuestRam ram);
    }

    interface VcpuMaker {
        Arm64ReferenceVcpu make(int index, StolenTime st, PvTimeAttribute attr, PvTimeHypercalls hc);
    }

    static ReferenceParts attribute(AttributeMaker maker) {
        return new ReferenceParts() {
            @Override
            public PvTimeAttribute pvTimeAttribute(GuestRam ram, boolean offered, StolenTime stolenTime) {
                return maker.make(ram, offered, stolenTime);
            }
        };
    }

    static ReferenceParts hypercalls(HypercallsMaker maker) {
        return new ReferenceParts() {
            @Override
            public PvTimeHypercalls pvTimeHypercalls(boolean offered, StolenTime stolenTime) {
                return maker.make(offered, stolenTime);
            }
        };
    }

    static ReferenceParts stolenTime(StolenTimeMaker maker) {
        return new ReferenceParts() {
            @Override
            public StolenTime stolenTime(GuestRam ram) {
                return maker.make(ram);
            }
        };
    }

    static ReferenceParts vcpu(VcpuMaker maker) {
        return new ReferenceParts() {
            @Override
            public Arm64ReferenceVcpu arm64Vcpu(int index, StolenTime st, PvTimeAttribute attr, PvTimeHypercalls hc) {
                return maker.make(index, st, attr, hc);
            }
        };
    }

    /**
     * Parts that know the VM they are building: the reference builds one VM at a time (guest RAM
     * first, then each vCPU's structure, attribute, hypercalls and vCPU), so a variant whose
     * defect crosses vCPUs can reach its siblings. Each VM gets fresh lists.
     */
    static class VmScopedParts extends ReferenceParts {
        protected GuestRam ram;
        protected long ramEnd;
        protected List<StolenTime> structures = new ArrayList<>();
        protected List<Object> vcpus = new ArrayList<>();

        @Override
        public GuestRam guestRam(List<MemoryRegion> regions) {
            structures = new ArrayList<>();
            vcpus = new ArrayList<>();
            ramEnd = regions.get(regions.size() - 1).end();
            ram = super.guestRam(regions);
            return ram;
        }

        @Override
        public StolenTime stolenTime(GuestRam ram) {
            StolenTime st = super.stolenTime(ram);
            structures.add(st);
            return st;
        }
    }
}
