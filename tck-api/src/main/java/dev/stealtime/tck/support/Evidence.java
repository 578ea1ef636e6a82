package dev.stealtime.tck.support;

import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * Attachments and steps that explain a result in the report (hex dumps, version sequences, race
 * histograms, errno tables). Uses Allure when it is on the classpath and a test is running; does
 * nothing otherwise, so suites also run without Allure.
 */
public final class Evidence {

    private static final boolean ALLURE = present("io.qameta.allure.Allure");

    private Evidence() {
    }

    private static boolean present(String cls) {
        try {
            Class.forName(cls, false, Evidence.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** Attach a text document. */
    public static void text(String name, String content) {
        if (ALLURE) {
            AllureBridge.attach(name, content);
        }
    }

    /** Run {@code body} as a named report step (configure, run, observe...), returning its value. */
    public static <T> T step(String name, Supplier<T> body) {
        return ALLURE ? AllureBridge.step(name, body) : body.get();
    }

    /** Run {@code body} as a named report step. */
    public static void step(String name, Runnable body) {
        step(name, () -> {
            body.run();
            return null;
        });
    }

    /** Add a parameter to the current test (data-driven cases). */
    public static void parameter(String name, Object value) {
        if (ALLURE) {
            AllureBridge.parameter(name, String.valueOf(value));
        }
    }

    /** Kept in its own class so that Allure types are only touched when Allure is present. */
    private static final class AllureBridge {
        static void attach(String name, String content) {
            try {
                io.qameta.allure.Allure.addAttachment(name, "text/plain",
                        new java.io.ByteArrayInputStream(content.getBytes(StandardCharsets.UTF_8)), ".txt");
            } catch (RuntimeException ignored) {
                // no test case is running (e.g. called from a benchmark): nothing to attach to
            }
        }

        static <T> T step(String name, Supplier<T> body) {
            return io.qameta.allure.Allure.step(name, body::get);
        }

        static void parameter(String name, String value) {
            try {
                io.qameta.allure.Allure.parameter(name, value);
            } catch (RuntimeException ignored) {
                // no test case is running
            }
        }
    }
}
