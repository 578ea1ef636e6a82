package dev.stealtime.tck.support;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * Every observation of one structure over a stepped workload (run, preempt, run, idle, ...), each
 * judged as it is taken. A rule judged on two snapshots, one before and one after a workload, misses
 * a defect that one update makes and the next one undoes: a kernel that stores steal byte-swapped
 * and reads it back as little-endian swaps it back on every update with nothing to add, so after an
 * even number of updates the value reads right (issue 27: ARM-LITTLE-ENDIAN failed such a kernel in
 * two runs of four). Judging the structure after every call that can carry an update leaves such a
 * defect no place to hide.
 *
 * <p>A failure says what was expected, what was seen and where: the rule's expectation, which
 * observation broke it (its position, the vCPU and address, the step after which it was taken),
 * the whole sequence observed up to it with that one marked, and the hex dump of the structure
 * against the observation before it. The sequence is also attached to the report.
 */
public final class Observations {

    /** What is wrong with {@code now}, given the observation before it ({@code null} for the first); {@code null} when nothing is. */
    @FunctionalInterface
    public interface Judge {
        String wrong(Snapshot previous, Snapshot now);
    }

    private final String expectation;
    private final Function<Snapshot, String> row;
    private final List<Judge> judges;
    private final List<Snapshot> seen = new ArrayList<>();

    private Observations(String expectation, Function<Snapshot, String> row, List<Judge> judges) {
        this.expectation = expectation;
        this.row = row;
        this.judges = judges;
    }

    /**
     * @param expectation what every observation must show ("stolen_time stored little-endian: ...")
     * @param row         how one observation is shown in the sequence (the fields the judges read)
     * @param judges      each observation must satisfy every one of them
     */
    public static Observations of(String expectation, Function<Snapshot, String> row, Judge... judges) {
        if (judges.length == 0) {
            throw new IllegalArgumentException("observations with nothing to judge prove nothing");
        }
        return new Observations(expectation, row, List.of(judges));
    }

    /** Records {@code s} and judges it against the observation before it; fails at once when a judge objects. */
    public Snapshot observe(Snapshot s) {
        Snapshot previous = seen.isEmpty() ? null : seen.get(seen.size() - 1);
        seen.add(s);
        for (Judge j : judges) {
            String wrong = j.wrong(previous, s);
            if (wrong != null) {
                fail(previous, s, wrong);
            }
        }
        return s;
    }

    /** The number of observations judged so far. */
    public int size() {
        return seen.size();
    }

    public Snapshot first() {
        return seen.get(0);
    }

    public Snapshot last() {
        return seen.get(seen.size() - 1);
    }

    /** The observed sequence, one line per observation; {@code mark} (an index, or -1) is flagged. */
    public String table(int mark) {
        StringBuilder sb = new StringBuilder();
        int width = seen.stream().mapToInt(s -> s.when().length()).max().orElse(4);
        for (int i = 0; i < seen.size(); i++) {
            Snapshot s = seen.get(i);
            sb.append(String.format("%3d  %-" + width + "s  %s%s%n", i + 1, s.when(), row.apply(s), i == mark ? "   <-- here" : ""));
        }
        return sb.toString();
    }

    /** Attaches the sequence observed so far to the report (call it in a {@code finally}). */
    public void attach(String title) {
        Evidence.text(title + " (" + seen.size() + " observations)", table(-1));
    }

    private void fail(Snapshot previous, Snapshot now, String wrong) {
        int at = seen.size() - 1;
        String sequence = table(at);
        String dump = previous == null ? now.when() + ":\n" + now.hex()
                : "(" + previous.when() + " → " + now.when() + ")\n" + HexDump.beforeAfter(now.gpa(), previous.bytes(), now.bytes());
        Evidence.text("observed sequence up to the failure", sequence);
        Evidence.text("structure hex dump (" + now.where() + ")", dump);
        throw new AssertionError(String.format("expected at every observation: %s; seen at observation %d of the sequence "
                        + "(%s, %s): %s%nobserved sequence:%n%shex dump:%n%s",
                expectation, at + 1, now.where(), now.when(), wrong, sequence, dump));
    }
}
