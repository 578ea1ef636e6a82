package dev.stealtime.tck.runner.result;

import org.testng.annotations.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The mutation score printed by {@code -Pmutation}: what counts, and what fails the build. */
public class MutationScoreTest {

    private static final String REF = "dev.stealtime.tck.runner.reference.";
    private static final String MUT = "org.pitest.mutationtest.engine.gregor.mutators.";

    private static MutationScore.Mutant mutant(String cls, String method, int line, String mutator, String status) {
        return new MutationScore.Mutant(REF + cls, method, line, MUT + mutator, "d",
                status.equals("KILLED") || status.equals("TIMED_OUT"), status);
    }

    private static final List<MutationScore.Mutant> MUTANTS = List.of(
            mutant("StealTimeMsr", "update", 90, "VoidMethodCallMutator", "KILLED"),
            mutant("StealTimeMsr", "update", 93, "MathMutator", "TIMED_OUT"),
            mutant("StealTimeMsr", "readSteal", 115, "MathMutator", "SURVIVED"),
            mutant("GuestRam", "at", 71, "MathMutator", "NO_COVERAGE"));

    private static String judge(List<MutationScore.Listed> listed, List<String> problems) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        problems.addAll(MutationScore.judge(MUTANTS, listed, Path.of("list.txt"), new PrintStream(bytes, true, StandardCharsets.UTF_8)));
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    public void equivalentMutantsLeaveTheSecondScoreAndUnlistedSurvivorsFailTheBuild() {
        List<String> problems = new ArrayList<>();
        String out = judge(List.of(new MutationScore.Listed("equivalent", "StealTimeMsr.readSteal:115 MathMutator", "offset 0", 3)), problems);
        assertThat(out).contains("killed / total          = 2 / 4 = 50.0 %   (1 of the kills by timing out)")
                .contains("killed / non-equivalent = 2 / 3 = 66.7 %   (1 equivalent")
                .contains("equivalent: StealTimeMsr.readSteal:115 MathMutator")
                .contains("SURVIVED, NOT LISTED: GuestRam.at:71 MathMutator [NO_COVERAGE]");
        assertThat(problems).hasSize(1).first().asString().contains("GuestRam.at:71 MathMutator");
    }

    @Test
    public void unkilledMutantsCountAgainstTheScoreAndAListedMutantThatDiesIsReported() {
        List<String> problems = new ArrayList<>();
        String out = judge(List.of(
                new MutationScore.Listed("unkilled", "StealTimeMsr.readSteal:115 MathMutator", "race only", 1),
                new MutationScore.Listed("unkilled", "GuestRam.at:71 MathMutator", "message", 2),
                new MutationScore.Listed("equivalent", "StealTimeMsr.update:90 VoidMethodCallMutator", "wrong", 3)), problems);
        assertThat(problems).isEmpty();
        assertThat(out).contains("killed / non-equivalent = 2 / 4 = 50.0 %   (0 equivalent")
                .contains("listed but killed this time (list.txt:3): StealTimeMsr.update:90 VoidMethodCallMutator -- an equivalent mutant cannot really be killed");
    }

    @Test
    public void aMalformedListLineIsRejectedWithItsLineNumber() throws Exception {
        Path file = Files.createTempFile("mutants-", ".txt");
        try {
            Files.writeString(file, "# comment\n\nmaybe StealTimeMsr.update:90 VoidMethodCallMutator why\n");
            assertThatThrownBy(() -> MutationScore.readList(file))
                    .hasMessageContaining(file + ":3: expected 'equivalent|unkilled Class.method:line Mutator reason'");
        } finally {
            Files.delete(file);
        }
    }

    @Test
    public void theCheckedInListParses() throws Exception {
        List<MutationScore.Listed> listed = MutationScore.readList(Path.of("src/pit/surviving-mutants.txt"));
        assertThat(listed).isNotEmpty().allSatisfy(l -> assertThat(l.reason()).isNotBlank());
    }
}
