package dev.stealtime.tck.runner.kvm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The guest: a few real-mode (16-bit, CS = DS = SS = 0) instructions assembled by hand, placed in
 * the first 64 KiB of guest RAM that {@code GuestLayout} leaves to the provider. The host drives it
 * by loading registers with {@code KVM_SET_REGS} (RIP = one of the entry points below, plus the
 * operands in EAX/ECX/EDX/EBX), running it with {@code KVM_RUN}, and reading the results back with
 * {@code KVM_GET_REGS} once the guest reports through an {@code OUT} to one of the ports below.
 *
 * <pre>
 *   0x0000-0x03ff  real-mode interrupt vector table (IVT): 256 x {offset u16, segment u16}
 *   0x0800-0x08ff  one stub per exception vector 0..31 (OUT PORT_EXCEPTION with AL = vector)
 *   0x0900         stub for vectors 32..255 (never expected: the guest runs with IF = 0)
 *   0x1000..       entry points: WRMSR, RDMSR, CPUID, BUSY, HALT, and the #GP handler
 *   0x3000-0xf000  one 256-byte real-mode stack per vCPU, growing down from 0xf000
 * </pre>
 * Nothing here is ever resumed after a "done" OUT: the host sets fresh registers for each request,
 * which also discards KVM's pending completion of that OUT.
 */
final class GuestCode {

    private GuestCode() {
    }

    // --- I/O ports the guest reports through (none is emulated by KVM's in-kernel PIC)
    /** The entry point's instruction completed. */
    static final int PORT_DONE = 0x10;
    /** The #GP handler ran: the instruction faulted. */
    static final int PORT_GP = 0x11;
    /** The busy loop finished one round (about a millisecond of guest time). */
    static final int PORT_TICK = 0x12;
    /** The guest came out of HLT on its own (an interrupt; not expected). */
    static final int PORT_WOKE = 0x13;
    /** Any other exception; AL holds the vector. */
    static final int PORT_EXCEPTION = 0x1f;

    // --- entry points
    static final int WRMSR = 0x1000;
    static final int RDMSR = 0x1010;
    static final int CPUID = 0x1020;
    static final int BUSY = 0x1030;
    static final int HALT = 0x1040;
    static final int GP_HANDLER = 0x1050;

    static final int IVT = 0x0000;
    static final int EXCEPTION_STUBS = 0x0800;
    static final int SPURIOUS_STUB = 0x0900;
    static final int VECTOR_GP = 13;

    static final int STACK_TOP = 0xf000;
    static final int STACK_SIZE = 0x100;
    static final int STACK_FLOOR = 0x3000;
    /** One stack each: that many vCPUs fit below the reserved 64 KiB. */
    static final int MAX_VCPUS = (STACK_TOP - STACK_FLOOR) / STACK_SIZE;

    /** First byte the provider's guest code does not use. */
    static final int END = 0x10000;

    /** Initial SP of vCPU {@code index}. */
    static int stackTop(int index) {
        return STACK_TOP - index * STACK_SIZE;
    }

    // ---------------------------------------------------------------------------------------------
    // The code. Every stub ends "hlt; jmp back to hlt" as a backstop; the host never resumes it.

    /** ECX = MSR index, EDX:EAX = value. */
    private static final byte[] WRMSR_CODE = {
            0x0f, 0x30,               // wrmsr                    ; MSR[ECX] = EDX:EAX (may #GP)
            (byte) 0xe6, PORT_DONE,   // out  PORT_DONE, al       ; done, no fault
            (byte) 0xf4,              // hlt
            (byte) 0xeb, (byte) 0xfd, // jmp  short hlt (-3)
    };

    /** ECX = MSR index; result in EDX:EAX. */
    private static final byte[] RDMSR_CODE = {
            0x0f, 0x32,               // rdmsr                    ; EDX:EAX = MSR[ECX] (may #GP)
            (byte) 0xe6, PORT_DONE,   // out  PORT_DONE, al
            (byte) 0xf4,              // hlt
            (byte) 0xeb, (byte) 0xfd, // jmp  short hlt (-3)
    };

    /** EAX = leaf, ECX = subleaf; result in EAX, EBX, ECX, EDX. */
    private static final byte[] CPUID_CODE = {
            0x0f, (byte) 0xa2,        // cpuid
            (byte) 0xe6, PORT_DONE,   // out  PORT_DONE, al
            (byte) 0xf4,              // hlt
            (byte) 0xeb, (byte) 0xfd, // jmp  short hlt (-3)
    };

    /** EBX = iterations per round. Spins, then reports a tick, forever. */
    private static final byte[] BUSY_CODE = {
            0x66, (byte) 0x89, (byte) 0xd9, // 0x1030 mov  ecx, ebx   ; 66 = 32-bit operand, ModRM 11 011 001
            0x66, 0x49,                     // 0x1033 dec  ecx
            0x75, (byte) 0xfc,              // 0x1035 jnz  0x1033     ; -4
            (byte) 0xe6, PORT_TICK,         // 0x1037 out  PORT_TICK, al   ; exit to the host: check the clock
            (byte) 0xeb, (byte) 0xf5,       // 0x1039 jmp  0x1030     ; -11
    };

    /** Halts. With KVM's in-kernel irqchip the vCPU thread blocks inside KVM_RUN. */
    private static final byte[] HALT_CODE = {
            (byte) 0xf4,                    // 0x1040 hlt
            (byte) 0xe6, PORT_WOKE,         // 0x1041 out  PORT_WOKE, al   ; only if an interrupt woke us
            (byte) 0xeb, (byte) 0xfb,       // 0x1043 jmp  0x1040     ; -5
    };

    /** Vector 13. Real mode pushes FLAGS, CS, IP (no error code); we never IRET. */
    private static final byte[] GP_HANDLER_CODE = {
            (byte) 0xe6, PORT_GP,     // out  PORT_GP, al         ; the faulting instruction did not complete
            (byte) 0xf4,              // hlt
            (byte) 0xeb, (byte) 0xfd, // jmp  short hlt (-3)
    };

    /** Stub for exception {@code vector}: reports it in AL. */
    private static byte[] exceptionStub(int vector) {
        return new byte[] {
                (byte) 0xb0, (byte) vector,     // mov  al, vector
                (byte) 0xe6, PORT_EXCEPTION,    // out  PORT_EXCEPTION, al
                (byte) 0xf4,                    // hlt
                (byte) 0xeb, (byte) 0xfd,       // jmp  short hlt (-3)
                (byte) 0x90,                    // nop (pad to 8 bytes)
        };
    }

    /** The whole 64 KiB image: IVT, stubs, entry points; the rest zero. */
    static byte[] image() {
        ByteBuffer img = ByteBuffer.allocate(END).order(ByteOrder.LITTLE_ENDIAN);
        for (int vector = 0; vector < 256; vector++) {
            int handler;
            if (vector == VECTOR_GP) {
                handler = GP_HANDLER;
            } else if (vector < 32) {
                handler = EXCEPTION_STUBS + vector * 8;
            } else {
                handler = SPURIOUS_STUB;
            }
            img.putShort(IVT + vector * 4, (short) handler); // offset
            img.putShort(IVT + vector * 4 + 2, (short) 0);   // segment
        }
        for (int vector = 0; vector < 32; vector++) {
            img.put(EXCEPTION_STUBS + vector * 8, exceptionStub(vector));
        }
        img.put(SPURIOUS_STUB, exceptionStub(0xff));
        img.put(WRMSR, WRMSR_CODE);
        img.put(RDMSR, RDMSR_CODE);
        img.put(CPUID, CPUID_CODE);
        img.put(BUSY, BUSY_CODE);
        img.put(HALT, HALT_CODE);
        img.put(GP_HANDLER, GP_HANDLER_CODE);
        return img.array();
    }
}
