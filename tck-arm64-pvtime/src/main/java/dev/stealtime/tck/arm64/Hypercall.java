package dev.stealtime.tck.arm64;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * One SMCCC call a guest made and the x0 it got back, kept together for messages:
 * "PV_TIME_FEATURES(PV_TIME_ST) on vCPU 0 returned NOT_SUPPORTED (-1)".
 */
public record Hypercall(int vcpu, int functionId, long[] args, long x0) {

    /** "PV_TIME_FEATURES(PV_TIME_ST) on vCPU 0" */
    public String call() {
        String a = Arrays.stream(args).mapToObj(PvTime::functionName).collect(Collectors.joining(", "));
        return PvTime.functionName(functionId) + "(" + a + ") on vCPU " + vcpu;
    }

    public String outcome() {
        return PvTime.resultName(x0);
    }

    @Override
    public String toString() {
        return call() + " → " + outcome();
    }
}
