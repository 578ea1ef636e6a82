package dev.stealtime.tck.runner.result;

import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;

/**
 * The mutation score of the reference hypervisor under the two conformance suites, printed at the
 * end of {@code ./mvnw -B -Pmutation verify} (the {@code reports} module) from PIT's
 * {@code mutations.xml}, judged against the checked-in list of surviving mutants
 * ({@code tck-runner/src/pit/surviving-mutants.txt}). Also copies PIT's HTML report next to the
 * Allure report.
 *
 * <pre>
 * MutationScore --pit DIR --list FILE [--copy-to DIR]
 * </pre>
 *
 * Every line of the list is {@code KIND Class.method:line Mutator reason...}; KIND is
 * {@code equivalent} (no conforming-vs-faulty behaviour differs: left out of the second score) or
 * {@code unkilled} (a real defect no test kills yet, with why). The build fails when a mutant
 * survives that the list does not name; a list line that matches no survivor is reported as stale.
 */
public final class MutationScore {

    /** One mutant from mutations.xml. */
    record Mutant(String clazz, String method, int line, String mutator, String description, boolean detected,
                  String status) {
        String key() {
            return clazz.substring(clazz.lastIndexOf('.') + 1) + "." + method + ":" + line + " "
                    + mutator.substring(mutator.lastIndexOf('.') + 1);
        }
    }

    /** One line of the list of survivors. */
    record Listed(String kind, String key, String reason, int lineNo) {
    }

    private MutationScore() {
    }

    public static void main(String[] args) throws Exception {
        Path pit = null;
        Path list = null;
        Path copyTo = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--pit" -> pit = Path.of(args[++i]);
                case "--list" -> list = Path.of(args[++i]);
                case "--copy-to" -> copyTo = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: MutationScore --pit DIR --list FILE [--copy-to DIR]");
            }
        }
        if (pit == null || list == null) {
            throw new IllegalArgumentException("usage: MutationScore --pit DIR --list FILE [--copy-to DIR]");
        }
        Path xml = pit.resolve("mutations.xml");
        if (!Files.isRegularFile(xml)) {
            throw new IllegalStateException("no PIT result at " + xml + " (did the mutation run happen?)");
        }
        List<String> problems = judge(read(xml), readList(list), list, System.out);
        if (copyTo != null) {
            copyTree(pit, copyTo);
            System.out.println("[mutation] PIT report: " + copyTo.resolve("index.html"));
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(problems.size() + " surviving mutant(s) not listed in " + list
                    + " (kill each with a sharper test, or list it with its reason): see the SURVIVED, NOT LISTED lines above");
        }
    }

    static List<Mutant> read(Path xml) throws Exception {
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(xml.toFile());
        NodeList nodes = doc.getElementsByTagName("mutation");
        List<Mutant> out = new ArrayList<>();
        for (int i = 0; i < nodes.getLength(); i++) {
            Element m = (Element) nodes.item(i);
            out.add(new Mutant(text(m, "mutatedClass"), text(m, "mutatedMethod"),
                    Integer.parseInt(text(m, "lineNumber")), text(m, "mutator"), text(m, "description"),
                    Boolean.parseBoolean(m.getAttribute("detected")), m.getAttribute("status")));
        }
        return out;
    }

    private static String text(Element e, String tag) {
        NodeList n = e.getElementsByTagName(tag);
        return n.getLength() == 0 ? "" : n.item(0).getTextContent().trim();
    }

    static List<Listed> readList(Path file) throws IOException {
        List<Listed> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\\s+", 4);
            if (f.length < 4 || !(f[0].equals("equivalent") || f[0].equals("unkilled"))) {
                throw new IllegalArgumentException(file + ":" + (i + 1)
                        + ": expected 'equivalent|unkilled Class.method:line Mutator reason', got: " + line);
            }
            out.add(new Listed(f[0], f[1] + " " + f[2], f[3], i + 1));
        }
        return out;
    }

    /** Prints the score and the survivors; returns what makes the build fail (unlisted survivors). */
    static List<String> judge(List<Mutant> mutants, List<Listed> listed, Path listFile, PrintStream out) {
        Map<String, Listed> byKey = new LinkedHashMap<>();
        listed.forEach(l -> byKey.put(l.key(), l));
        long total = mutants.size();
        long killed = mutants.stream().filter(Mutant::detected).count();
        List<Mutant> survivors = mutants.stream().filter(m -> !m.detected()).toList();
        long equivalent = survivors.stream()
                .filter(m -> byKey.containsKey(m.key()) && byKey.get(m.key()).kind().equals("equivalent")).count();
        List<String> problems = new ArrayList<>();
        out.println("[mutation] ---------------------------------------------------------------------------");
        out.println("[mutation] Mutation score of the reference hypervisor under both conformance suites");
        long timedOut = mutants.stream().filter(m -> m.status().equals("TIMED_OUT")).count();
        out.printf(Locale.ROOT, "[mutation]   killed / total          = %d / %d = %s   (%d of the kills by timing out)%n",
                killed, total, pct(killed, total), timedOut);
        out.printf(Locale.ROOT, "[mutation]   killed / non-equivalent = %d / %d = %s   (%d equivalent, listed in %s)%n",
                killed, total - equivalent, pct(killed, total - equivalent), equivalent, listFile);
        for (Mutant m : survivors) {
            Listed l = byKey.get(m.key());
            String what = m.key() + " [" + m.status() + "] " + m.description();
            if (l == null) {
                out.println("[mutation]   SURVIVED, NOT LISTED: " + what);
                problems.add("mutant survived and is not listed in " + listFile + ": " + what);
            } else {
                out.println("[mutation]   " + l.kind() + ": " + what + " -- " + l.reason());
            }
        }
        for (Listed l : listed) {
            boolean matches = survivors.stream().anyMatch(m -> m.key().equals(l.key()));
            if (!matches) {
                out.println("[mutation]   listed but killed this time (" + listFile + ":" + l.lineNo() + "): " + l.key()
                        + (l.kind().equals("equivalent")
                        ? " -- an equivalent mutant cannot really be killed: a spurious kill (a starved race?) or a stale line number"
                        : " -- killed this time: remove the line once it is killed in every run (a kill that depends on a race,"
                        + " as its reason may say, is not yet that)"));
            }
        }
        out.println("[mutation] ---------------------------------------------------------------------------");
        return problems;
    }

    private static String pct(long a, long b) {
        return b == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f %%", 100.0 * a / b);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            files.forEach(p -> {
                try {
                    Path target = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(target);
                    } else {
                        Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
