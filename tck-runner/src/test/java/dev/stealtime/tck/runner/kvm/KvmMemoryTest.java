package dev.stealtime.tck.runner.kvm;

import dev.stealtime.tck.spi.GuestMemory;
import dev.stealtime.tck.support.GuestLayout;
import org.testng.annotations.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Guest RAM: slots with holes, byte copies, live views that alias what KVM writes. */
public class KvmMemoryTest extends KvmTestSupport {

    @Test
    public void readAndWriteRoundTripInEveryRegion() {
        open(1, true);
        GuestMemory m = vm.memory();
        for (long gpa : new long[] {GPA, GuestLayout.LOW_EDGE, GuestLayout.MID.gpa(), GuestLayout.MID.end() - 16,
                GuestLayout.HIGH.gpa(), GuestLayout.HIGH.end() - 16}) {
            byte[] b = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
            m.write(gpa, b);
            assertThat(m.read(gpa, 16)).as("0x%x", gpa).isEqualTo(b);
        }
    }

    @Test
    public void rangesOutsideRamOrAcrossAnEdgeAreRejected() {
        open(1, true);
        GuestMemory m = vm.memory();
        assertThatThrownBy(() -> m.read(GuestLayout.IN_HOLE, 8)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> m.read(GuestLayout.BEYOND_RAM, 8)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> m.read(GuestLayout.LOW.end() - 8, 16)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> m.write(GuestLayout.HIGH.end() - 8, new byte[16]))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> m.liveView(GuestLayout.MID.gpa() - 8, 16)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> m.write(0x3000_0000L, new byte[1])).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    public void liveViewAliasesGuestRamAndSeesKvmUpdates() {
        var v = open(1, true);
        ByteBuffer view = vm.memory().liveView(GPA, 64).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(view.isDirect()).isTrue();
        vm.memory().write(GPA + 32, new byte[] {0x42});
        assertThat(view.get(32)).as("host write seen through the view").isEqualTo((byte) 0x42);
        view.put(33, (byte) 0x43);
        assertThat(vm.memory().read(GPA + 33, 1)[0]).as("view write seen by read").isEqualTo((byte) 0x43);
        vm.memory().write(GPA, new byte[32]);
        register(v, GPA);
        int before = view.getInt(8);
        v.run(Duration.ofMillis(1));
        v.preempt(Duration.ofMillis(1));
        assertThat(view.getInt(8)).as("KVM's version update seen through the same view").isGreaterThan(before);
    }

    @Test
    public void memoryIsRefusedAfterClose() {
        open(1, true);
        GuestMemory m = vm.memory();
        vm.close();
        vm = null;
        assertThatThrownBy(() -> m.read(GPA, 8)).isInstanceOf(IllegalStateException.class);
    }
}
