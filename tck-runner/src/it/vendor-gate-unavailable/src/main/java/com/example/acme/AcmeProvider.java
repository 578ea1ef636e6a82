package com.example.acme;

import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.spi.Availability;

/**
 * The ACME hypervisor, on a machine where its VMM is not running: availability() says no. As the TCK sees it: a HypervisorProvider with its own id. To keep the example
 * small it is the TCK's reference hypervisor under another name; a real vendor implements
 * dev.stealtime.tck.spi.HypervisorProvider over its own VMM.
 */
public class AcmeProvider extends ReferenceProvider {

    public AcmeProvider() {
        super("acme", "ACME hypervisor (example vendor provider)", new ReferenceParts());
    }

    /** The vendor's VMM did not come up on this CI machine. */
    @Override
    public Availability availability() {
        return Availability.no("ACME VMM did not come up: /run/acme/vmm.sock: Connection refused");
    }

    @Override
    public String version() {
        return "1.0.0";
    }
}
