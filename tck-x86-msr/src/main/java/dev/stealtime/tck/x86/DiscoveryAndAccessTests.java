package dev.stealtime.tck.x86;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.RuleIds;
import dev.stealtime.tck.rules.TckRule;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.CpuidResult;
import dev.stealtime.tck.spi.MsrResult;
import dev.stealtime.tck.support.Evidence;
import dev.stealtime.tck.support.GuestLayout;
import dev.stealtime.tck.support.NotApplicableException;
import dev.stealtime.tck.support.Snapshot;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.stealtime.tck.x86.KvmStealTime.CPUID_KVM_FEATURES;
import static dev.stealtime.tck.x86.KvmStealTime.ENABLE;
import static dev.stealtime.tck.x86.KvmStealTime.FEATURE_STEAL_TIME_BIT;
import static dev.stealtime.tck.x86.KvmStealTime.hex;
import static dev.stealtime.tck.x86.KvmStealTime.ms;
import static dev.stealtime.tck.x86.StealTimeRecordAssert.assertThatRecord;
import static org.assertj.core.api.Assertions.assertThat;

/** Rule area "Discovery and access": the CPUID bit, WRMSR/RDMSR of valid values, RDMSR read-back. */
public class DiscoveryAndAccessTests extends X86TckTest {

    /** Valid values: aligned addresses in RAM with the enable bit on or off, and 0. */
    private List<Long> validValues() {
        List<Long> v = new ArrayList<>(List.of(
                layout().slot(4) | ENABLE,
                layout().slot(4),
                layout().lowEdge() | ENABLE,
                layout().slot(5) | ENABLE,
                0L));
        if (layout().hasHigh()) {
            v.add(GuestLayout.HIGH_SLOT | ENABLE);
            v.add(GuestLayout.HIGH_SLOT);
        }
        return v;
    }

    @TckRule(RuleIds.X86_MSR_ACCESS)
    @Test(groups = Level.REQUIRED_GROUP)
    public void X86_MSR_ACCESS_wrmsrAndRdmsrOfValidValuesNeverFault() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        List<String> problems = new ArrayList<>();
        StringBuilder table = new StringBuilder("value               WRMSR     RDMSR\n");
        for (long value : validValues()) {
            Evidence.step("guest WRMSR " + hex(value) + ", then RDMSR", () -> {
                vm.zeroIfRegistering(value);
                MsrResult w = cpu.guestWrmsr(value);
                MsrResult r = cpu.guestRdmsr();
                table.append(String.format("%-19s %-9s %s%n", hex(value), w, r));
                if (w.faulted()) {
                    problems.add("guest WRMSR(MSR_KVM_STEAL_TIME, " + hex(value) + ") faulted with steal time offered");
                }
                if (r.faulted()) {
                    problems.add("guest RDMSR(MSR_KVM_STEAL_TIME) after writing " + hex(value) + " faulted");
                }
            });
        }
        Evidence.text("WRMSR/RDMSR of valid values", table.toString());
        assertThat(problems).as("valid values written and read on vCPU 0:%n%s", table).isEmpty();
    }

    @DataProvider
    public Object[][] offering() {
        return new Object[][]{{"offered"}, {"withheld"}};
    }

    @TckRule(RuleIds.X86_FEATURE_BIT)
    @Test(groups = Level.LINUX_ABI_GROUP, dataProvider = "offering")
    public void X86_FEATURE_BIT_cpuidBit5IsSetExactlyWhenTheMsrIsUsable(String stealTime) {
        Evidence.parameter("steal time", stealTime);
        boolean offered = stealTime.equals("offered");
        if (!offered) {
            require(Capability.WITHHOLD_STEAL_TIME);
        }
        StealTimeVm vm = openStealTimeVm(layout().spec(architecture(), 1).withStealTimeOffered(offered));
        StealTimeVcpu cpu = vm.vcpu(0);
        long gpa = layout().slot(0);
        vm.zeroStructure(gpa);
        Snapshot zeroed = cpu.snapshot(gpa, "zeroed by the guest");
        CpuidResult leaf = Evidence.step("CPUID 0x40000001", () -> cpu.cpuid(CPUID_KVM_FEATURES));
        boolean bit = (leaf.eax() >>> FEATURE_STEAL_TIME_BIT & 1) != 0;
        MsrResult w = Evidence.step("guest WRMSR " + hex(gpa | ENABLE), () -> cpu.guestWrmsr(gpa | ENABLE));
        MsrResult r = Evidence.step("guest RDMSR", () -> cpu.guestRdmsr());
        Evidence.text("discovery", String.format("steal time %s: CPUID 0x40000001 = %s; WRMSR %s -> %s; RDMSR -> %s%n",
                stealTime, leaf, hex(gpa | ENABLE), w, r));
        if (offered) {
            assertThat(bit).as("CPUID 0x40000001 EAX bit 5 (KVM_FEATURE_STEAL_TIME) with steal time offered; EAX = 0x%x", leaf.eax()).isTrue();
            assertThat(w.faulted()).as("WRMSR of a valid value while the feature bit is set (the MSR must be usable)").isFalse();
            assertThat(r.faulted()).as("RDMSR while the feature bit is set (the MSR must be usable)").isFalse();
        } else {
            assertThat(bit).as("CPUID 0x40000001 EAX bit 5 with steal time withheld; EAX = 0x%x", leaf.eax()).isFalse();
            assertThat(w.faulted()).as("WRMSR with the feature bit withheld and PV CPUID enforced must #GP").isTrue();
            assertThat(r.faulted()).as("RDMSR with the feature bit withheld and PV CPUID enforced must #GP").isTrue();
            if (provider().capabilities().contains(Capability.HOST_MSR_ACCESS)) {
                // Linux checks the feature for the VMM's KVM_SET_MSRS as for the guest's WRMSR (x86.c: guest_pv_has)
                boolean accepted = Evidence.step("host KVM_SET_MSRS " + hex(gpa | ENABLE) + " with the feature withheld",
                        () -> cpu.hostSetMsr(gpa | ENABLE));
                cpu.runBriefly();
                assertThat(accepted).as("host KVM_SET_MSRS(MSR_KVM_STEAL_TIME, %s) with the feature bit withheld and PV CPUID "
                        + "enforced must write 0 MSRs", hex(gpa | ENABLE)).isFalse();
                assertThatRecord(cpu.snapshot(gpa, "after the refused host write and a run"))
                        .wasNotWrittenSince(zeroed, "steal time is withheld from this VM");
            }
        }
    }

    /**
     * CPU hot-plug: the VMM adds a vCPU while the guest runs (QEMU: QMP {@code device_add}), and the
     * new vCPU must be offered steal time as vCPU 0 is: the same CPUID bit, a registration accepted
     * as there, and a structure written after a preemption as vCPU 0's is. A VMM that sets up
     * hot-plugged vCPUs on another path than the boot vCPUs' (CPUID, MSR filters) can forget the
     * feature there. How much steal is written is X86-STEAL-ACCOUNTS' business, not this rule's.
     */
    @TckRule(RuleIds.X86_HOTPLUG_OFFERED)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_HOTPLUG_OFFERED_aVcpuAddedWhileTheGuestRunsIsOfferedStealTime() {
        require(Capability.VCPU_HOTPLUG);
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu first = vm.vcpu(0);
        first.runBriefly();
        StealTimeVcpu added = hotplugVcpu(vm);
        CpuidResult boot = Evidence.step("vCPU 0: CPUID 0x40000001", () -> first.cpuid(CPUID_KVM_FEATURES));
        CpuidResult leaf = Evidence.step("the added vCPU " + added.index() + ": CPUID 0x40000001", () -> added.cpuid(CPUID_KVM_FEATURES));
        Evidence.text("CPUID 0x40000001", String.format("vCPU 0 (booted): %s%nvCPU %d (hot-plugged): %s%n", boot, added.index(), leaf));
        assertThat(leaf.eax() >>> FEATURE_STEAL_TIME_BIT & 1).as("CPUID 0x40000001 EAX bit 5 (KVM_FEATURE_STEAL_TIME) on the hot-plugged "
                + "vCPU %d, as on vCPU 0 (EAX 0x%x there, 0x%x here)", added.index(), boot.eax(), leaf.eax())
                .isEqualTo(boot.eax() >>> FEATURE_STEAL_TIME_BIT & 1);
        long gpa0 = layout().slot(1);
        long gpa = layout().slot(2);
        vm.zeroStructure(gpa0);
        vm.zeroStructure(gpa);
        MsrResult w0 = Evidence.step("vCPU 0: guest WRMSR " + hex(gpa0 | ENABLE), () -> first.guestWrmsr(gpa0 | ENABLE));
        if (w0.faulted()) {
            throw new NotApplicableException("vCPU 0 itself cannot register (WRMSR " + hex(gpa0 | ENABLE) + ": " + w0
                    + "; X86-MSR-ACCESS): there is nothing to offer the added vCPU like it");
        }
        MsrResult w = Evidence.step("the added vCPU: guest WRMSR " + hex(gpa | ENABLE), () -> added.guestWrmsr(gpa | ENABLE));
        assertThat(w.faulted()).as("WRMSR(MSR_KVM_STEAL_TIME, %s) on the hot-plugged vCPU %d must not fault: it did not on vCPU 0 (%s)",
                hex(gpa | ENABLE), added.index(), w).isFalse();
        Duration d = preemption(Duration.ofMillis(3));
        boolean bootWritten = writtenAfterPreemption(first, gpa0, d);
        if (!bootWritten) {
            throw new NotApplicableException("vCPU 0's own structure was not written after its preemption (X86-ENABLE): there is nothing "
                    + "to offer the added vCPU like it");
        }
        assertThat(writtenAfterPreemption(added, gpa, d)).as("the hot-plugged vCPU %d's structure at %s is written after its preemption "
                + "(within the update bound), as vCPU 0's is", added.index(), hex(gpa)).isTrue();
    }

    /** Whether {@code cpu}'s structure at {@code gpa} changed after a preemption of {@code d} and the runs of the update bound. */
    private static boolean writtenAfterPreemption(StealTimeVcpu cpu, long gpa, Duration d) {
        Snapshot before = cpu.settle(gpa, "vCPU " + cpu.index() + ": registered");
        cpu.preempt(d);
        Snapshot after = cpu.runUntil(gpa, "vCPU " + cpu.index() + ": after preempt " + ms(d),
                s -> !java.util.Arrays.equals(s.bytes(), before.bytes()));
        return !java.util.Arrays.equals(after.bytes(), before.bytes());
    }

    /**
     * The guest finds leaf 0x40000001 through the hypervisor signature leaf: CPUID 0x40000000
     * answers "KVMKVMKVM\0\0\0" in EBX, ECX, EDX and the highest hypervisor leaf in EAX, which must
     * reach 0x40000001 (Documentation/virt/kvm/x86/cpuid.rst: KVM_CPUID_SIGNATURE).
     */
    @TckRule(RuleIds.X86_FEATURE_BIT)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_FEATURE_BIT_signatureLeafLeadsToTheFeatureLeaf() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        CpuidResult sig = Evidence.step("CPUID 0x40000000", () -> cpu.cpuid(KvmStealTime.CPUID_KVM_SIGNATURE));
        Evidence.text("CPUID 0x40000000", sig.toString());
        byte[] name = java.nio.ByteBuffer.allocate(12).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .putInt(sig.ebx()).putInt(sig.ecx()).putInt(sig.edx()).array();
        assertThat(new String(name, java.nio.charset.StandardCharsets.ISO_8859_1))
                .as("CPUID 0x40000000 EBX, ECX, EDX: the KVM signature (%s)", sig).isEqualTo("KVMKVMKVM\0\0\0");
        assertThat(Integer.toUnsignedLong(sig.eax())).as("CPUID 0x40000000 EAX, the highest hypervisor leaf, must reach "
                + "0x40000001 (KVM_CPUID_FEATURES) (%s)", sig).isGreaterThanOrEqualTo(KvmStealTime.CPUID_KVM_FEATURES);
    }

    @TckRule(RuleIds.X86_RDMSR_READBACK)
    @Test(groups = Level.LINUX_ABI_GROUP)
    public void X86_RDMSR_READBACK_returnsExactlyTheLastValueWritten() {
        StealTimeVm vm = openStealTimeVm();
        StealTimeVcpu cpu = vm.vcpu(0);
        boolean host = provider().capabilities().contains(Capability.HOST_MSR_ACCESS);
        List<Long> values = List.of(
                layout().slot(2) | ENABLE,
                layout().lowEdge() | ENABLE,
                layout().slot(2),                    // disabled, address kept
                GuestLayout.HIGH_SLOT | ENABLE,
                GuestLayout.BEYOND_RAM | ENABLE,       // accepted though outside RAM
                0xFFFF_FFFF_FFFF_FFC1L,
                layout().slot(3) | ENABLE,
                0L);
        List<String> problems = new ArrayList<>();
        StringBuilder table = new StringBuilder("path                written             guest RDMSR         host GET\n");
        for (long value : values) {
            Evidence.step("guest WRMSR " + hex(value) + ", read back", () -> {
                vm.zeroIfRegistering(value);
                cpu.writeValid(value);
                MsrResult r = cpu.guestRdmsr();
                String hostRead = host ? hex(cpu.hostGetMsr()) : "-";
                table.append(String.format("%-19s %-19s %-19s %s%n", "guest WRMSR", hex(value), r, hostRead));
                if (r.faulted() || r.value() != value) {
                    problems.add("guest RDMSR after guest WRMSR " + hex(value) + " returned " + r);
                }
                if (host && !hostRead.equals(hex(value))) {
                    problems.add("host KVM_GET_MSRS after guest WRMSR " + hex(value) + " returned " + hostRead);
                }
            });
        }
        if (host) {
            for (long value : values) {
                Evidence.step("host KVM_SET_MSRS " + hex(value) + ", read back", () -> {
                    vm.zeroIfRegistering(value);
                    boolean ok = cpu.hostSetMsr(value);
                    assertThat(ok).as("host KVM_SET_MSRS(MSR_KVM_STEAL_TIME, %s), a valid value, was rejected", hex(value)).isTrue();
                    MsrResult r = cpu.guestRdmsr();
                    long h = cpu.hostGetMsr();
                    table.append(String.format("%-19s %-19s %-19s %s%n", "host SET", hex(value), r, hex(h)));
                    if (r.faulted() || r.value() != value) {
                        problems.add("guest RDMSR after host set " + hex(value) + " returned " + r);
                    }
                    if (h != value) {
                        problems.add("host KVM_GET_MSRS after host set " + hex(value) + " returned " + hex(h));
                    }
                });
            }
        }
        Evidence.text("written and read back", table.toString());
        assertThat(problems).as("values written and read back on vCPU 0:%n%s", table).isEmpty();
    }
}
