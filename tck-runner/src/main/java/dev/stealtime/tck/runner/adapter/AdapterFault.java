package dev.stealtime.tck.runner.adapter;

/**
 * The adapter misbehaved: it died, hung past its deadline, or sent something that is not a valid
 * response. The test in progress fails with this message (which carries the tail of the adapter's
 * log); the session is over and the next test gets a fresh adapter. Deliberately not one of the
 * SPI's exceptions, so no test mistakes it for an answer of the hypervisor.
 */
public final class AdapterFault extends RuntimeException {

    public AdapterFault(String message) {
        super(message);
    }

    public AdapterFault(String message, Throwable cause) {
        super(message, cause);
    }
}
