package dev.stealtime.tck.runner.qemu;

import java.io.IOException;

/**
 * The test guest did not answer within its deadline, while QEMU's serial port stayed open: the VM
 * that owns the console adds what QEMU and its vCPU threads were doing ({@link QemuVm}).
 */
final class NoAnswerException extends IOException {

    NoAnswerException(String message) {
        super(message);
    }
}
