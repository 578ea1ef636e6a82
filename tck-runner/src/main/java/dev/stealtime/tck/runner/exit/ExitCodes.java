package dev.stealtime.tck.runner.exit;

/**
 * The exit codes of {@code tck}: 0 CONFORMS, 1 DOES NOT CONFORM (a gating rule failed), 2 bad usage
 * or configuration ({@link UsageException}), 3 internal error of the TCK, 4 NOT TESTED, 5 PARTIAL
 * (only the rules selected by {@code --rule} ran, none failed), 130 INTERRUPTED. Below every other
 * package so that the verdict, the engines and the commands can name them without depending on the
 * command line.
 */
public final class ExitCodes {

    public static final int CONFORMS = 0;
    public static final int GATING_FAILURE = 1;
    public static final int USAGE = 2;
    public static final int INTERNAL = 3;
    public static final int NOT_TESTED = 4;
    public static final int PARTIAL = 5;
    public static final int INTERRUPTED = 130;

    /** The entry point's class, for a child JVM that runs {@code tck} (its name as the ./tck script writes it). */
    public static final String MAIN_CLASS = "dev.stealtime.tck.runner.TckCli";

    private ExitCodes() {
    }
}
