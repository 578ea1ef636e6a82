package dev.stealtime.tck.runner.run;

import dev.stealtime.tck.rules.TckRule;
import org.testng.annotations.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * Finds the test methods a suite ships (in its jar or classes directory): the TCK's assertion
 * inventory, used by {@code tck coverage} and by the build-time check that every rule has a test.
 */
public final class SuiteScanner {

    /** One test method and what it declares. */
    public record TestMethod(Class<?> type, Method method, List<String> ruleIds, List<String> groups) {
        public String name() {
            return type.getSimpleName() + "." + method.getName();
        }
    }

    private SuiteScanner() {
    }

    public static List<TestMethod> testMethods(Suite suite) {
        List<TestMethod> out = new ArrayList<>();
        for (Class<?> c : classes(suite.testPackage)) {
            if (Modifier.isAbstract(c.getModifiers())) {
                continue;
            }
            for (Method m : c.getMethods()) {
                Test t = m.getAnnotation(Test.class);
                if (t == null) {
                    continue;
                }
                TckRule r = m.getAnnotation(TckRule.class);
                out.add(new TestMethod(c, m, r == null ? List.of() : List.of(r.value()), List.of(t.groups())));
            }
        }
        out.sort(Comparator.comparing(TestMethod::name));
        return out;
    }

    static List<Class<?>> classes(String pkg) {
        String path = pkg.replace('.', '/');
        List<Class<?>> out = new ArrayList<>();
        ClassLoader cl = SuiteScanner.class.getClassLoader();
        try {
            for (URL url : Collections.list(cl.getResources(path))) {
                for (String name : classNames(url, path)) {
                    if (!name.contains("$")) {
                        out.add(Class.forName(name.replace('/', '.'), false, cl));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (ClassNotFoundException | URISyntaxException e) {
            throw new IllegalStateException("cannot scan " + pkg + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static List<String> classNames(URL url, String path) throws IOException, URISyntaxException {
        List<String> names = new ArrayList<>();
        if (url.getProtocol().equals("jar")) {
            JarURLConnection conn = (JarURLConnection) url.openConnection();
            conn.setUseCaches(false);
            try (JarFile jar = conn.getJarFile()) {
                for (JarEntry e : Collections.list(jar.entries())) {
                    if (e.getName().startsWith(path + "/") && e.getName().endsWith(".class")) {
                        names.add(e.getName().substring(0, e.getName().length() - 6));
                    }
                }
            }
        } else if (url.getProtocol().equals("file")) {
            Path root = Paths.get(url.toURI());
            try (Stream<Path> files = Files.walk(root)) {
                files.filter(p -> p.toString().endsWith(".class")).forEach(p -> {
                    String rel = root.relativize(p).toString().replace('\\', '/');
                    names.add(path + "/" + rel.substring(0, rel.length() - 6));
                });
            }
        }
        return names;
    }
}
