package dev.stealtime.tck.arm64;

import dev.stealtime.tck.spi.Arm64Vcpu;
import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.LiveMemory;
import dev.stealtime.tck.support.NotApplicableException;
import dev.stealtime.tck.support.Snapshot;

import java.time.Duration;
import java.util.Arrays;
import java.util.OptionalLong;

import static dev.stealtime.tck.arm64.Arm64Assertions.assertThatAttr;

/**
 * One arm64 vCPU seen through the PV time interface: the VMM's device attribute, the guest's
 * hypercalls, the structure in guest memory and the workload. Every call goes through the SPI;
 * results come back with the call that produced them, for messages.
 *
 * <p>Who places the structure: the TCK, acting as the VMM through the device attribute, unless the
 * provider's own VMM placed it ({@link Arm64Vcpu#vmmPlacedIpa()}). Then {@link #configure} adopts the
 * VMM's address instead of the one the test names, tests read it back with {@link #ipa()}, and every
 * attribute call ends the test NOT APPLICABLE ({@link #requireTckPlacesStructure}).
 */
public final class PvTimeVcpu {

    private final Arm64Vcpu vcpu;
    private final GuestMemory memory;
    private final Duration shortRun;
    private long ipa = PvTime.NO_IPA;

    PvTimeVcpu(Arm64Vcpu vcpu, GuestMemory memory, Duration shortRun) {
        this.vcpu = vcpu;
        this.memory = memory;
        this.shortRun = shortRun;
    }

    public int index() {
        return vcpu.index();
    }

    // ---- the VMM: KVM_{HAS,SET,GET}_DEVICE_ATTR on the vCPU ----

    public AttrCall has() {
        return hasAttr(PvTime.PVTIME_IPA);
    }

    public AttrCall hasAttr(long attr) {
        requireTckPlacesStructure("KVM_HAS_DEVICE_ATTR");
        int r = vcpu.hasDeviceAttr(PvTime.PVTIME_CTRL, attr);
        return new AttrCall(AttrCall.Kind.HAS, index(), PvTime.PVTIME_CTRL, attr, 0, r, 0);
    }

    /** {@code SET_DEVICE_ATTR(PVTIME_CTRL, PVTIME_IPA, ipa)}. */
    public AttrCall set(long ipa) {
        return setAttr(PvTime.PVTIME_IPA, ipa);
    }

    public AttrCall setAttr(long attr, long value) {
        requireTckPlacesStructure("KVM_SET_DEVICE_ATTR");
        int r = vcpu.setDeviceAttr(PvTime.PVTIME_CTRL, attr, value);
        return new AttrCall(AttrCall.Kind.SET, index(), PvTime.PVTIME_CTRL, attr, value, r, 0);
    }

    public AttrCall get() {
        return getAttr(PvTime.PVTIME_IPA);
    }

    public AttrCall getAttr(long attr) {
        requireTckPlacesStructure("KVM_GET_DEVICE_ATTR");
        Arm64Vcpu.AttrResult r = vcpu.getDeviceAttr(PvTime.PVTIME_CTRL, attr);
        return new AttrCall(AttrCall.Kind.GET, index(), PvTime.PVTIME_CTRL, attr, 0, r.errno(), r.value());
    }

    /**
     * The VMM gives this vCPU its structure at {@code ipa}: it zeroes the 64 bytes (as a VMM hands
     * the guest fresh memory for the reserved region), then sets the IPA, which must succeed. No
     * required rule relies on the hypervisor zeroing them (that Linux's PV_TIME_ST does is
     * ARM-ST-REINITIALISES, linux-abi). Later snapshots read the structure there (where the VMM put
     * it, whatever PV_TIME_ST answers).
     *
     * <p>Where the VMM placed the structure itself ({@link Arm64Vcpu#vmmPlacedIpa()}), nothing is
     * written or set: the structure is the VMM's, at its address, and {@code ipa} is not used.
     */
    public PvTimeVcpu configure(long ipa) {
        OptionalLong placed = vcpu.vmmPlacedIpa();
        if (placed.isPresent()) {
            this.ipa = placed.getAsLong();
            Evidence.text("vCPU " + index() + ": the VMM placed the structure", String.format(
                    "the VMM placed vCPU %d's structure at 0x%x itself (the test would have put it at 0x%x)", index(), this.ipa, ipa));
            return this;
        }
        memory.write(ipa, new byte[PvTime.SIZE]);
        assertThatAttr(set(ipa)).as("setting up vCPU %d", index()).succeeded();
        this.ipa = ipa;
        return this;
    }

    /**
     * The guest's discovery: the VMM configures {@code ipa}, then the guest calls PV_TIME_ST, which
     * zeroes the structure and starts counting. PV_TIME_ST's answer is judged by its own rule, not here.
     */
    public PvTimeVcpu enable(long ipa) {
        configure(ipa);
        stolenTimeIpa();
        return this;
    }

    /**
     * The VMM restores a saved IPA on a new VM (migration): sets it, which must succeed, without
     * touching guest memory (the structure arrives with the guest's memory, before or after).
     */
    public PvTimeVcpu restore(long ipa) {
        assertThatAttr(set(ipa)).as("restoring the saved IPA on vCPU %d of the destination", index()).succeeded();
        this.ipa = ipa;
        return this;
    }

    /**
     * Where the structure of a restored vCPU lies: the VMM's own save and restore put it back at
     * {@code ipa}; nothing is set or written (later snapshots read it there).
     */
    public PvTimeVcpu restoredAt(long ipa) {
        this.ipa = ipa;
        return this;
    }

    /** The guest memory of this vCPU's VM. */
    public GuestMemory memory() {
        return memory;
    }

    /** Whether the provider's VMM placed this vCPU's structure itself ({@link Arm64Vcpu#vmmPlacedIpa()}). */
    public boolean placedByVmm() {
        return vcpu.vmmPlacedIpa().isPresent();
    }

    /**
     * NOT APPLICABLE where the VMM placed the structure itself: {@code what} needs the TCK to act as
     * the VMM (set, get or probe the IPA, or leave a vCPU without a structure).
     */
    public void requireTckPlacesStructure(String what) {
        OptionalLong placed = vcpu.vmmPlacedIpa();
        if (placed.isPresent()) {
            throw new NotApplicableException(String.format("the VMM places vCPU %d's structure itself (at 0x%x) and offers no way to "
                    + "act as the VMM: %s", index(), placed.getAsLong(), what));
        }
    }

    /** The IPA this test configured, or the VMM placed (all-ones before {@link #configure}). */
    public long ipa() {
        return ipa;
    }

    // ---- the guest: SMCCC calls through HVC ----

    public Hypercall call(int functionId, long... args) {
        long x0 = vcpu.smccc(functionId, args);
        return new Hypercall(index(), functionId, args.clone(), x0);
    }

    /** {@code SMCCC_VERSION()}. */
    public Hypercall smcccVersion() {
        return call(PvTime.SMCCC_VERSION);
    }

    /** {@code SMCCC_ARCH_FEATURES(functionId)}. */
    public Hypercall archFeatures(int functionId) {
        return call(PvTime.SMCCC_ARCH_FEATURES, functionId & 0xffffffffL);
    }

    /** {@code PV_TIME_FEATURES(functionId)}. */
    public Hypercall features(int functionId) {
        return call(PvTime.PV_TIME_FEATURES, functionId & 0xffffffffL);
    }

    /** {@code PV_TIME_ST}: the IPA of this vCPU's structure; zeroes it and restarts counting. */
    public Hypercall stolenTimeIpa() {
        return call(PvTime.PV_TIME_ST);
    }

    // ---- the structure in guest memory ----

    /** The 64 bytes at the configured IPA, as they are now. */
    public Snapshot snapshot(String when) {
        requireConfigured();
        return Snapshot.take(memory, when, index(), ipa, PvTime.SIZE);
    }

    /** stolen_time as the guest reads it: one 64-bit little-endian load. */
    public long stolenTime() {
        requireConfigured();
        return new LiveMemory(memory, ipa, PvTime.SIZE).u64(PvTime.STOLEN_TIME);
    }

    private void requireConfigured() {
        if (ipa == PvTime.NO_IPA) {
            throw new IllegalStateException("vCPU " + index() + " has no structure configured by this test");
        }
    }

    /** Fill bytes {@code [from, to)} of the structure with {@code junk} (a VMM write: the guest does not write there). */
    public void fill(int from, int to, byte junk) {
        requireConfigured();
        byte[] b = new byte[to - from];
        Arrays.fill(b, junk);
        memory.write(ipa + from, b);
    }

    // ---- the workload ----

    public void run(Duration d) {
        vcpu.run(d);
    }

    /** The guest runs briefly: one scheduling in, so the hypervisor updates the structure. */
    public void runBriefly() {
        vcpu.run(shortRun);
    }

    /** Runnable but kept off the CPU for {@code d}: stolen time. */
    public void preempt(Duration d) {
        vcpu.preempt(d);
    }

    /** WFI for {@code d} while the host CPU is contended: not stolen time. */
    public void idle(Duration d) {
        vcpu.idle(d);
    }

    /**
     * Run briefly twice, so every update owed for earlier scheduling has landed, whether the
     * hypervisor takes its run-delay sample when the vCPU is scheduled in or when it was last put.
     * Used before reading amounts; only ARM-UPDATED-BEFORE-RUN looks at the very first entry.
     */
    public void settle() {
        runBriefly();
        runBriefly();
    }

    /** The device tree the VMM gave the guest, as the guest reads it ({@link Arm64Vcpu#deviceTree()}). */
    public java.util.List<dev.stealtime.tck.spi.DeviceTreeRange> deviceTree() {
        return Evidence.step("the guest reads the device tree it was booted with", vcpu::deviceTree);
    }

    /** The host's own cumulative measure of this vCPU's involuntary wait (ns). */
    public long hostSteal() {
        return vcpu.hostStealMeasureNanos();
    }

    @Override
    public String toString() {
        return "vCPU " + index() + (ipa == PvTime.NO_IPA ? "" : String.format(" (structure at 0x%x)", ipa));
    }
}
