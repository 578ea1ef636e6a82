package com.example.acme;

import dev.stealtime.tck.runner.reference.GuestRam;
import dev.stealtime.tck.runner.reference.ReferenceParts;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.reference.StealTimeMsr;

/**
 * The ACME hypervisor with one defect: every steal-time update leaves {@code flags} (offset 12 of
 * the x86 structure) at 1. The TCK must fail its build, naming X86-FLAGS-ZERO.
 */
public class AcmeProvider extends ReferenceProvider {

    public AcmeProvider() {
        super("acme-faulty", "ACME hypervisor with one defect: x86 flags set to 1", new ReferenceParts() {
            @Override
            public StealTimeMsr stealTimeMsr(GuestRam ram, boolean offered) {
                return new StealTimeMsr(ram, offered) {
                    @Override
                    protected void endUpdate(long gpa, int oddVersion) {
                        super.endUpdate(gpa, oddVersion);
                        ram.putInt(gpa + FLAGS, 1);   // the defect: flags must stay zero
                    }
                };
            }
        });
    }

    @Override
    public String version() {
        return "1.0.0-faulty";
    }
}
