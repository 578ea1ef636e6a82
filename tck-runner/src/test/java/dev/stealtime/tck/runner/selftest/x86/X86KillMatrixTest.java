package dev.stealtime.tck.runner.selftest.x86;

import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.KillMatrix;
import org.testng.annotations.Test;

import java.io.IOException;

/** Every x86 test method fails against at least one faulty variant ({@link KillMatrix}). */
public class X86KillMatrixTest {

    @Test
    public void everyX86TestMethodFailsAgainstSomeVariant() throws IOException {
        KillMatrix.assertEveryTestMethodFailsAgainstSomeVariant(Suite.X86, X86FaultyVariants.all());
    }
}
