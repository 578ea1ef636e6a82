package dev.stealtime.tck.support.race;

import java.time.Duration;
import java.util.List;

/**
 * What a race saw: a count per outcome, the number of writer updates, examples of forbidden
 * observations, and how long it ran.
 */
public record RaceResult(RaceSpec spec, long[] counts, long updates, List<String> forbiddenExamples,
                         Duration elapsed) {

    public long samples() {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    public long forbidden() {
        long n = 0;
        for (int i = 0; i < counts.length; i++) {
            if (spec.outcomes().get(i).grade() == Grade.FORBIDDEN) {
                n += counts[i];
            }
        }
        return n;
    }

    /**
     * One line: which forbidden outcomes fired, with their counts, and the first forbidden
     * observation, e.g. {@code torn: above the ceiling × 1,095; first: read 0x... above the ceiling ...}.
     * Empty when none fired.
     */
    public String forbiddenSummary() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < counts.length; i++) {
            Outcome o = spec.outcomes().get(i);
            if (o.grade() == Grade.FORBIDDEN && counts[i] > 0) {
                sb.append(sb.length() == 0 ? "" : ", ").append(String.format("%s × %,d", o.name(), counts[i]));
            }
        }
        if (sb.length() > 0 && !forbiddenExamples.isEmpty()) {
            sb.append("; first: ").append(forbiddenExamples.get(0));
        }
        return sb.toString();
    }

    public double samplesPerSecond() {
        return samples() / Math.max(1e-9, elapsed.toNanos() / 1e9);
    }

    /** jcstress-style table: outcome, grade, count, meaning; then totals. */
    public String histogram() {
        StringBuilder sb = new StringBuilder();
        sb.append("race: ").append(spec.name()).append('\n');
        sb.append(String.format("%-34s %-10s %14s  %s%n", "outcome", "grade", "count", "meaning"));
        for (int i = 0; i < counts.length; i++) {
            Outcome o = spec.outcomes().get(i);
            sb.append(String.format("%-34s %-10s %,14d  %s%n", o.name(), o.grade(), counts[i], o.meaning()));
        }
        sb.append(String.format("samples %,d by %d reader(s) in %d ms (%,.0f/s), writer steps %,d (each a preempt and a run; the writer log says how many brought a hypervisor update)%n",
                samples(), spec.readers(), elapsed.toMillis(), samplesPerSecond(), updates));
        if (!forbiddenExamples.isEmpty()) {
            sb.append("first forbidden observations:\n");
            forbiddenExamples.forEach(e -> sb.append("  ").append(e).append('\n'));
        }
        return sb.toString();
    }
}
