package dev.stealtime.tck.support;

import org.testng.annotations.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

public class TckConfigTest {

    @Test
    public void flagWinsOverPropertyWhichWinsOverDefault() {
        System.setProperty("tck.race.budget", "750ms");
        try {
            TckConfig c = TckConfig.fromEnvironment();
            assertThat(c.raceBudget()).isEqualTo(Duration.ofMillis(750));
            assertThat(c.origin(TckConfig.Key.RACE_BUDGET)).isEqualTo("property");
            c.with(TckConfig.Key.RACE_BUDGET, "3s");
            assertThat(c.raceBudget()).isEqualTo(Duration.ofSeconds(3));
            assertThat(c.origin(TckConfig.Key.RACE_BUDGET)).isEqualTo("flag");
        } finally {
            System.clearProperty("tck.race.budget");
        }
        assertThat(TckConfig.fromEnvironment().origin(TckConfig.Key.PROVIDER)).isIn("default", "env");
        assertThat(TckConfig.Key.RACE_BUDGET.envName()).isEqualTo("TCK_RACE_BUDGET");
    }

    @Test
    public void badValuesAreOneLineReasons() {
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.RACE_BUDGET, "-1s").validate())
                .hasMessage("tck.race.budget must be a positive duration such as 500ms, 2s or 1m, got '-1s'");
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.TIMING_MULTIPLIER, "fast").validate())
                .hasMessageContaining("timing multiplier");
        assertThatThrownBy(() -> TckConfig.fromEnvironment().with(TckConfig.Key.PROFILES, "required,gold").validate())
                .hasMessageContaining("unknown profile 'gold'");
    }

    @Test
    public void durationsParse() {
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "1m")).isEqualTo(Duration.ofMinutes(1));
        assertThat(TckConfig.parseDuration(TckConfig.Key.RACE_BUDGET, "250")).isEqualTo(Duration.ofMillis(250));
    }

    @Test
    public void hexDumpShowsAddressBytesAndChangedOffsets() {
        byte[] before = new byte[16];
        byte[] after = before.clone();
        after[9] = 7;
        assertThat(HexDump.of(0x4000, after)).startsWith("0x00004000  00 00");
        assertThat(HexDump.beforeAfter(0x4000, before, after)).contains("bytes changed at offsets: [9]");
    }
}
