package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.spi.Architecture;
import dev.stealtime.tck.spi.Availability;
import dev.stealtime.tck.spi.Capability;
import dev.stealtime.tck.spi.HypervisorProvider;
import dev.stealtime.tck.spi.TimingPrecision;
import dev.stealtime.tck.spi.Vm;
import dev.stealtime.tck.spi.VmSpec;

import java.util.Set;

/** A provider that forwards to another: the base for wrappers that change one declaration. */
public class DelegatingProvider implements HypervisorProvider {

    protected final HypervisorProvider inner;

    public DelegatingProvider(HypervisorProvider inner) {
        this.inner = inner;
    }

    @Override
    public String id() {
        return "wrapped-" + inner.id();
    }

    @Override
    public String description() {
        return inner.description();
    }

    @Override
    public String version() {
        return inner.version();
    }

    @Override
    public Set<Architecture> architectures() {
        return inner.architectures();
    }

    @Override
    public Set<Capability> capabilities() {
        return inner.capabilities();
    }

    @Override
    public TimingPrecision timing() {
        return inner.timing();
    }

    @Override
    public void prepare() {
        inner.prepare();
    }

    @Override
    public Availability availability() {
        return inner.availability();
    }

    @Override
    public Vm open(VmSpec spec) {
        return inner.open(spec);
    }
}
