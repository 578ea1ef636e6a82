package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.runner.reference.Arm64ReferenceVcpu;
import dev.stealtime.tck.runner.reference.PvTimeAttribute;
import dev.stealtime.tck.runner.reference.PvTimeHypercalls;
import dev.stealtime.tck.runner.reference.PvTimeRegion;
import dev.stealtime.tck.runner.reference.StolenTime;
import dev.stealtime.tck.runner.selftest.LegalVariant;
import dev.stealtime.tck.spi.DeviceTreeRange;
import dev.stealtime.tck.support.Errno;
import dev.stealtime.tck.support.GuestLayout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.NOT_SUPPORTED;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_FEATURES;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.PV_TIME_ST;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.SUCCESS;
import static dev.stealtime.tck.runner.reference.PvTimeHypercalls.SMCCC_ARCH_FEATURES;
import static dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants.attribute;
import static dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants.hypercalls;
import static dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants.stolenTime;
import static dev.stealtime.tck.runner.selftest.arm64.Arm64FaultyVariants.vcpu;

/**
 * The arm64 legal hypervisors, the mirror of {@link Arm64FaultyVariants}: each is the reference using
 * one freedom seed 002 leaves open, with the sentence that allows it, and the levels at which it is
 * legal. Every rule of those levels must PASS against each.
 */
public final class Arm64LegalVariants {

    static final String STOLEN = "Stolen time in unsigned nanoseconds indicating how much time this VCPU thread was involuntarily "
            + "not running on a physical CPU.";

    private Arm64LegalVariants() {
    }

    /**
     * stolen_time is a total the hypervisor keeps (reset by PV_TIME_ST) and writes, never reading
     * guest memory back: legal at required, and the faulty {@code keeps-own-copy} at linux-abi
     * (ARM-ACCUMULATES-IN-MEMORY: Linux before v5.9 did this and lost stolen time on migration).
     */
    static dev.stealtime.tck.runner.reference.ReferenceParts ownAccumulator() {
        return stolenTime(Arm64FaultyVariants.OwnTotal::new);
    }

    public static List<LegalVariant> all() {
        List<LegalVariant> v = new ArrayList<>();
        v.add(LegalVariant.of("region-reserved-in-ram", "the VMM places the structures inside a memory node and reserves their "
                        + "region in the device tree (/reserved-memory), instead of leaving it out of every memory node as QEMU does",
                "the stolen time structure will be present within a reserved region of the normal memory given to the guest",
                Arm64FaultyVariants.region(spec -> new PvTimeRegion(spec) {
                    @Override
                    public long base() {
                        return GuestLayout.MID.gpa() + 0x8000;
                    }

                    @Override
                    public List<DeviceTreeRange> deviceTree() {
                        List<DeviceTreeRange> tree = new ArrayList<>(super.deviceTree());
                        tree.add(new DeviceTreeRange(DeviceTreeRange.Kind.RESERVED, String.format("/reserved-memory/pvtime@%x", base()),
                                base(), SIZE));
                        return tree;
                    }
                })));
        v.add(LegalVariant.of("reserved-bytes-used", "every update also stores the hypervisor's own update count in bytes 16..23; "
                        + "ARM-RESERVED-UNTOUCHED (advisory) asks otherwise",
                "A total of 16 bytes from the IPA returned are guaranteed to be meaningfully filled by the hypervisor",
                Arm64FaultyVariants.stampsReservedBytes()).legalAt(Level.REQUIRED_GROUP, Level.LINUX_ABI_GROUP));
        v.add(LegalVariant.of("st-only-answers", "PV_TIME_ST only returns the IPA: it neither zeroes the structure nor restarts "
                        + "counting (Linux does both: ARM-ST-REINITIALISES, linux-abi)",
                "PV_TIME_ST ... Return value: (int64) IPA of the stolen time data structure for this VCPU.",
                stolenTime(ram -> new StolenTime(ram) {
                    private boolean started;

                    @Override
                    public long init(long runDelayNanos) {
                        if (!started) {               // the first call starts counting, nothing more
                            started = true;
                            lastSteal = runDelayNanos;
                        }
                        return base;
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("outside-memory-efault", "an aligned IPA outside guest memory is rejected with -EFAULT, not -EINVAL",
                "The base address must be 64 byte aligned and exist within a valid guest memory region. "
                        + "(Returns: -EINVAL only for \"Base address not 64 byte aligned\")",
                attribute((ram, offered, st) -> new PvTimeAttribute(ram, offered, st) {
                    @Override
                    public int set(int group, long attr, long ipa) {
                        int r = super.set(group, attr, ipa);
                        return r == Errno.EINVAL.negative() && aligned(ipa) ? Errno.EFAULT.negative() : r;
                    }
                })));
        v.add(LegalVariant.of("feature-ids-read-as-64-bits", "PV_TIME_FEATURES and SMCCC_ARCH_FEATURES compare all 64 bits of x1 "
                        + "(an id with bits set above bit 31 is unknown); Linux reads 32", "PV_call_id: (uint32) The function to query for support.",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    public long call(int functionId, long[] args, long runDelayNanos) {
                        boolean query = functionId == PV_TIME_FEATURES || functionId == SMCCC_ARCH_FEATURES;
                        if (query && args.length > 0 && (args[0] >>> 32) != 0) {
                            return NOT_SUPPORTED;
                        }
                        return super.call(functionId, args, runDelayNanos);
                    }
                })));
        v.add(LegalVariant.of("features-before-ipa", "PV_TIME_FEATURES(PV_TIME_ST) and PV_TIME_FEATURES(PV_TIME_FEATURES) answer SUCCESS "
                        + "whenever PV time is offered, also before the VMM set the vCPU's IPA (Linux ties them to the IPA since v5.9)",
                "PV_TIME_FEATURES \"Return value: (int32) SUCCESS (0) if the relevant PV-time feature is supported by the hypervisor\"",
                hypercalls((offered, st) -> new PvTimeHypercalls(offered, st) {
                    @Override
                    protected long features(int queried) {
                        return queried == PV_TIME_FEATURES || queried == PV_TIME_ST ? SUCCESS : NOT_SUPPORTED;
                    }
                })).legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("own-accumulator", "stolen_time is a total the hypervisor keeps and writes; it never reads guest memory back",
                STOLEN,
                ownAccumulator())
                // Linux (since v5.9) accumulates in guest memory: ARM-ACCUMULATES-IN-MEMORY, linux-abi
                .legalAt(Level.REQUIRED_GROUP, Level.ADVISORY_GROUP));
        v.add(LegalVariant.of("updates-during-preemption", "besides before every scheduling-in, the structure is also updated "
                        + "halfway through each preemption, while the vCPU is off its CPU",
                "The structure will be updated by the hypervisor prior to scheduling a VCPU.",
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    @Override
                    public void preempt(Duration d) {
                        super.preempt(d.dividedBy(2));
                        stolenTime().update(stealSourceNanos());
                        super.preempt(d.minus(d.dividedBy(2)));
                    }
                })));
        v.add(LegalVariant.of("preemption-overruns", "a preemption lasts a quarter longer than asked, and all of it is reported: "
                        + "the host measured it too", STOLEN,
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    @Override
                    public void preempt(Duration d) {
                        super.preempt(d.plus(d.dividedBy(4)));
                    }
                })));
        v.add(LegalVariant.of("wake-up-waits-for-the-cpu", "after each WFI the woken vCPU waits 100 µs for its CPU (involuntarily "
                        + "not running: stolen, measured by the host); the WFI time itself is not", STOLEN,
                vcpu((index, st, attr, hc) -> new Arm64ReferenceVcpu(index, st, attr, hc) {
                    @Override
                    protected void idleFor(Duration d) {
                        super.preempt(Duration.ofNanos(100_000));
                    }
                })));
        v.add(LegalVariant.of("dirty-log-64k-granules", "the dirty log is kept in 64 KiB granules (a host with 64 KiB pages), "
                        + "declared through GuestMemory.dirtyLogGranule()", "KVM api.rst: KVM_GET_DIRTY_LOG reports pages of the host's page size",
                dev.stealtime.tck.runner.selftest.RamVariants.granule64k()));
        return v;
    }
}
