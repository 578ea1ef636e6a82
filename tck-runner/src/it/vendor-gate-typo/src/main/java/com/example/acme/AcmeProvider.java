package com.example.acme;

import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;

/**
 * The ACME hypervisor as the TCK sees it: a HypervisorProvider with its own id. To keep the example
 * small it is the TCK's reference hypervisor under another name; a real vendor implements
 * dev.stealtime.tck.spi.HypervisorProvider over its own VMM.
 */
public class AcmeProvider extends ReferenceProvider {

    public AcmeProvider() {
        super("acme", "ACME hypervisor (example vendor provider)", new ReferenceParts());
    }

    @Override
    public String version() {
        return "1.0.0";
    }
}
