package dev.stealtime.tck.runner.cli;

import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.runner.run.SuiteScanner;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The build-time check: every catalogue rule has a test, every test names known rules of its own
 * suite, and every test sits in the TestNG group of its rule's level.
 */
public class CatalogueCoverageTest {

    @DataProvider
    public Object[][] suites() {
        return new Object[][]{{Suite.X86}, {Suite.ARM64}};
    }

    @Test(dataProvider = "suites")
    public void everyRuleHasATestAndEveryTestNamesAKnownRuleAtItsLevel(Suite suite) {
        var tests = SuiteScanner.testMethods(suite);
        assertThat(tests).as("tests found in package %s", suite.testPackage).isNotEmpty();
        assertThat(CoverageCommand.problems(suite, tests)).as("coverage problems of the %s suite", suite.cliName).isEmpty();
    }
}
