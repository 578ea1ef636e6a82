package dev.stealtime.tck.support.race;

import java.util.ArrayList;
import java.util.List;

/**
 * How every race builds its outcome table: one row per kind of observation, each named at the index
 * its probe returns for it ({@link Probe#sample}), so the table can stand beside the test that judges
 * it while the probe keeps its index constants, and a row out of place fails at once.
 * <pre>
 *   OutcomeTable.rows()
 *       .acceptable(UNCHANGED, "unchanged", "the same value as this reader's previous sample")
 *       .forbidden(BELOW_FLOOR, "torn: below the floor", "lower than the value in memory before the update")
 *       .build();
 * </pre>
 */
public final class OutcomeTable {

    private final List<Outcome> rows = new ArrayList<>();

    private OutcomeTable() {
    }

    /** An empty table; add its rows in index order, from 0. */
    public static OutcomeTable rows() {
        return new OutcomeTable();
    }

    /** Row {@code index}: an observation the rule allows. */
    public OutcomeTable acceptable(int index, String name, String meaning) {
        return row(index, Grade.ACCEPTABLE, name, meaning);
    }

    /** Row {@code index}: an observation the rule forbids (one fails the test). */
    public OutcomeTable forbidden(int index, String name, String meaning) {
        return row(index, Grade.FORBIDDEN, name, meaning);
    }

    /** Row {@code index}, graded {@code grade} (for a race whose tables differ only in which rows are forbidden). */
    public OutcomeTable row(int index, Grade grade, String name, String meaning) {
        if (index != rows.size()) {
            throw new IllegalArgumentException("outcome \"" + name + "\" has index " + index + " but would be row " + rows.size()
                    + " of the table: add the rows in the order of their indices");
        }
        rows.add(new Outcome(name, grade, meaning));
        return this;
    }

    /** The table, for {@link RaceSpec}. */
    public List<Outcome> build() {
        return List.copyOf(rows);
    }
}
