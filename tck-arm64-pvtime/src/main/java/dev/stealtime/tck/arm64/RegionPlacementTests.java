package dev.stealtime.tck.arm64;

import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.DeviceTreeRange;
import dev.stealtime.tck.spi.DeviceTreeRange.Kind;
import dev.stealtime.tck.support.Evidence;
import org.testng.annotations.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.rules.Level.REQUIRED_GROUP;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Where a whole VMM puts the structures: "the stolen time structure will be present within a
 * reserved region of the normal memory given to the guest" (DEN0057A, seed 002), one structure per
 * vCPU. Judged against the device tree the VMM gave the guest, as the guest reads it, and the IPAs
 * the guest's own {@code PV_TIME_ST} returns (the guest needs no other way to find them). A VMM may
 * leave the region out of every {@code memory} node (QEMU {@code virt}: {@code 0x090a0000}) or
 * describe it inside one and reserve it ({@code /reserved-memory}, {@code /memreserve/}); what it
 * may not do is hand the bytes to the guest as RAM (kvmtool 6a1f699: its region overlapped the
 * flash) or to a device.
 */
public class RegionPlacementTests extends Arm64TckTest {

    /** vCPUs whose structures are placed: enough for neighbours on both sides of one. */
    private static final int VCPUS = 4;

    private int vcpus() {
        return declares(Capability.MULTI_VCPU) ? VCPUS : 1;
    }

    /** Each vCPU's IPA as its own {@code PV_TIME_ST} returns it (SUCCESS is anything but NOT_SUPPORTED). */
    private static long[] ipas(PvTimeVm vm) {
        return Evidence.step("PV_TIME_ST on every vCPU: the IPA of its structure", () -> {
            long[] ipa = new long[vm.vcpus().size()];
            StringBuilder table = new StringBuilder();
            for (PvTimeVcpu v : vm.vcpus()) {
                Hypercall st = v.stolenTimeIpa();
                assertThat(st.x0()).as("vCPU %d: PV_TIME_ST where the VMM placed the structure must return its IPA, not NOT_SUPPORTED (%s)",
                        v.index(), st).isNotEqualTo(PvTime.NOT_SUPPORTED);
                ipa[v.index()] = st.x0();
                table.append(String.format("vCPU %d  [0x%x, 0x%x)%n", v.index(), st.x0(), st.x0() + PvTime.SIZE));
            }
            Evidence.text("structures (PV_TIME_ST)", table.toString());
            return ipa;
        });
    }

    private static List<DeviceTreeRange> deviceTree(PvTimeVm vm) {
        List<DeviceTreeRange> tree = vm.vcpu(0).deviceTree();
        StringBuilder s = new StringBuilder();
        tree.forEach(r -> s.append(String.format("%-8s %-36s [0x%x, 0x%x)%n", r.kind().name().toLowerCase(java.util.Locale.ROOT), r.node(),
                r.base(), r.base() + r.size())));
        Evidence.text("the guest's device tree: " + tree.size() + " ranges", s.toString());
        assertThat(tree).as("the device tree the VMM gave the guest describes its memory (a memory node)")
                .anyMatch(r -> r.kind() == Kind.MEMORY);
        return tree;
    }

    @TckRule(RuleIds.ARM_REGION_RESERVED)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_REGION_RESERVED_everyStructureLiesOutsideRamAndDevices() {
        PvTimeVm vm = openVmmPlacedPvTimeVm(vcpus());
        List<DeviceTreeRange> tree = deviceTree(vm);
        long[] ipa = ipas(vm);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < ipa.length; i++) {
            long at = ipa[i];
            boolean reserved = tree.stream().anyMatch(r -> r.kind() == Kind.RESERVED && r.contains(at, PvTime.SIZE));
            for (DeviceTreeRange r : tree) {
                if (!r.overlaps(at, PvTime.SIZE)) {
                    continue;
                }
                if (r.kind() == Kind.MEMORY && !reserved) {
                    wrong.add(String.format("vCPU %d's structure [0x%x, 0x%x) lies in RAM given to the guest, %s, and no reserved range covers it",
                            i, at, at + PvTime.SIZE, r));
                } else if (r.kind() == Kind.DEVICE || r.kind() == Kind.WINDOW) {
                    wrong.add(String.format("vCPU %d's structure [0x%x, 0x%x) overlaps %s", i, at, at + PvTime.SIZE, r));
                }
            }
        }
        assertThat(wrong).as("every structure lies in a region reserved for it: outside every memory node of the device tree "
                + "(or wholly inside a range the tree reserves), and off every device's reg and PCI window").isEmpty();
    }

    @TckRule(RuleIds.ARM_REGION_DISTINCT)
    @Test(groups = REQUIRED_GROUP)
    public void ARM_REGION_DISTINCT_eachVcpuHasItsOwnAlignedStructure() {
        require(Capability.MULTI_VCPU);
        PvTimeVm vm = openVmmPlacedPvTimeVm(VCPUS);
        long[] ipa = ipas(vm);
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < ipa.length; i++) {
            if (ipa[i] % PvTime.SIZE != 0) {
                wrong.add(String.format("vCPU %d's IPA 0x%x is not 64-byte aligned", i, ipa[i]));
            }
            for (int j = 0; j < i; j++) {
                if (Math.abs(ipa[i] - ipa[j]) < PvTime.SIZE) {
                    wrong.add(String.format("vCPU %d's structure [0x%x, 0x%x) overlaps vCPU %d's [0x%x, 0x%x)",
                            i, ipa[i], ipa[i] + PvTime.SIZE, j, ipa[j], ipa[j] + PvTime.SIZE));
                }
            }
        }
        assertThat(wrong).as("%d vCPUs: each has its own 64 bytes, 64-byte aligned", VCPUS).isEmpty();
    }
}
