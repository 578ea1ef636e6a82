package dev.stealtime.tck.runner.selftest.arm64;

import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.selftest.KillMatrix;
import org.testng.annotations.Test;

import java.io.IOException;

/** Every arm64 test method fails against at least one faulty variant ({@link KillMatrix}). */
public class Arm64KillMatrixTest {

    @Test
    public void everyArm64TestMethodFailsAgainstSomeVariant() throws IOException {
        KillMatrix.assertEveryTestMethodFailsAgainstSomeVariant(Suite.ARM64, Arm64FaultyVariants.all());
    }
}
