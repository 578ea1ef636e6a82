package dev.stealtime.tck.runner.exit;

/** Bad input from the user: printed as one line, exit code 2, no stack trace. */
public final class UsageException extends RuntimeException {
    public UsageException(String message) {
        super(message);
    }
}
