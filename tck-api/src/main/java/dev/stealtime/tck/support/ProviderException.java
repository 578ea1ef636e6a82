package dev.stealtime.tck.support;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * An exception a provider threw from an SPI method, reported as the provider's: which provider,
 * which call, the vendor's exception class and message, and the first frames of its stack trace.
 * The vendor's exception is the cause. A test that ends with this exception is a FAIL of the
 * provider, never an internal error of the TCK.
 */
public class ProviderException extends RuntimeException {

    /** How many frames of the vendor's stack trace a message carries. */
    public static final int FRAMES = 5;

    public ProviderException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "provider 'acme' failed in Vcpu.run(PT0.01S): IllegalStateException: no VM\n  at ..." */
    public static ProviderException thrownBy(String providerId, String call, Throwable vendor) {
        return new ProviderException("provider '" + providerId + "' failed in " + call + ": "
                + vendorMessage(vendor) + "\n" + frames(vendor), vendor);
    }

    /** The vendor's exception in one line: class and message (of the root cause when wrapped by the JDK). */
    public static String vendorMessage(Throwable t) {
        Throwable shown = t;
        // ServiceLoader and reflection wrap the constructor's own exception: show that one
        while ((shown instanceof java.util.ServiceConfigurationError || shown instanceof java.lang.reflect.InvocationTargetException
                || shown instanceof ExceptionInInitializerError) && shown.getCause() != null) {
            shown = shown.getCause();
        }
        String m = shown.getMessage();
        String line = shown.getClass().getName() + (m == null || m.isBlank() ? "" : ": " + m.strip());
        int nl = line.indexOf('\n');
        return nl < 0 ? line : line.substring(0, nl);
    }

    /** The first {@link #FRAMES} frames, one per line, indented. */
    public static String frames(Throwable t) {
        return frames(t.getStackTrace(), FRAMES);
    }

    public static String frames(StackTraceElement[] stack, int max) {
        String s = Arrays.stream(stack).limit(max).map(f -> "  at " + f).collect(Collectors.joining("\n"));
        return stack.length > max ? s + "\n  ... " + (stack.length - max) + " more" : s;
    }
}
