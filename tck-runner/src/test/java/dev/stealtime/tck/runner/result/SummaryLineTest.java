package dev.stealtime.tck.runner.result;

import org.testng.annotations.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** One-line summaries (console, conformance.md, junit.xml) keep an assertion's reason, not only its description. */
public class SummaryLineTest {

    @Test
    public void anAssertjDescriptionKeepsTheReasonOnTheLinesAfterIt() {
        assertThat(RunResult.firstLine("[guest WRMSR(MSR_KVM_STEAL_TIME, 0x10001) on vCPU 0 (a valid value) must not #GP] \n"
                + "Expecting value to be false but was true"))
                .isEqualTo("[guest WRMSR(MSR_KVM_STEAL_TIME, 0x10001) on vCPU 0 (a valid value) must not #GP] "
                        + "Expecting value to be false but was true");
        assertThat(RunResult.firstLine("[updates that carried] \nExpecting actual:\n  0\nto be greater than or equal to:\n  3\n\nrace writer log"))
                .isEqualTo("[updates that carried] Expecting actual: 0 to be greater than or equal to: 3");
    }

    @Test
    public void aMessageOfItsOwnKeepsItsFirstLine() {
        assertThat(RunResult.firstLine("version 7 is odd after the update completed: hex dump attached\n0x10000: 00 01 ..."))
                .isEqualTo("version 7 is odd after the update completed: hex dump attached");
        assertThat(RunResult.firstLine("one line")).isEqualTo("one line");
    }
}
