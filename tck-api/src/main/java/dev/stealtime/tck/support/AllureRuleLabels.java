package dev.stealtime.tck.support;

import dev.stealtime.tck.rules.Level;
import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.rules.TckRule;
import io.qameta.allure.listener.TestLifecycleListener;
import io.qameta.allure.model.Label;
import io.qameta.allure.model.Link;
import io.qameta.allure.model.Status;
import io.qameta.allure.model.StatusDetails;
import io.qameta.allure.model.TestResult;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Labels every TCK test in the Allure results from its {@link TckRule} and the catalogue, once and
 * centrally (no test carries Allure annotations):
 * <ul>
 *   <li>epic = the interface ({@code x86 MSR_KVM_STEAL_TIME}, {@code arm64 PV time}),
 *       feature = the rule's area, story = {@code RULE-ID: statement};</li>
 *   <li>severity from the level: required → critical, linux-abi → normal, advisory → minor;
 *       a tag per level and per rule id;</li>
 *   <li>links to the rule's sources (seed document, kernel document or source file, see
 *       {@link RuleSources}) and, when the test has none, a description naming the rule;</li>
 *   <li>the TCK's outcome rule: a skip that is not a declared NOT APPLICABLE
 *       ({@link NotApplicableException}) is shown as broken, never as a harmless skip.</li>
 * </ul>
 * An Allure {@link TestLifecycleListener}, registered in
 * {@code META-INF/services/io.qameta.allure.listener.TestLifecycleListener}: Allure itself loads it,
 * so it works wherever allure-testng records results — under the CLI runner and under plain
 * surefire in a vendor's build — and is never loaded when Allure is absent. It runs just before a
 * result is written, so it sees every result, including tests skipped without ever starting, and
 * does not depend on the order of TestNG listeners. Tests without {@link TckRule} are left alone.
 */
public final class AllureRuleLabels implements TestLifecycleListener {

    static final Set<String> REPLACED = Set.of("epic", "feature", "story", "severity");

    /** Class name → class, or empty when it cannot be loaded. */
    private final Map<String, Optional<Class<?>>> classes = new ConcurrentHashMap<>();

    @Override
    public void beforeTestWrite(TestResult result) {
        try {
            label(result);
        } catch (RuntimeException | LinkageError e) {
            // labelling is best effort: never lose a result because of it
        }
    }

    void label(TestResult result) {
        Optional<TckRule> annotation = tckRule(result);
        if (annotation.isEmpty()) {
            return;
        }
        List<Rule> rules = new ArrayList<>();
        for (String id : annotation.get().value()) {
            RuleCatalogue.get().find(id).ifPresent(rules::add);
        }
        if (rules.isEmpty()) {
            return;
        }
        apply(result, rules);
    }

    /** Sets labels, links, description and the skip rule on {@code result} for these rules. */
    static void apply(TestResult result, List<Rule> rules) {
        List<Label> labels = new ArrayList<>(result.getLabels() == null ? List.of() : result.getLabels());
        labels.removeIf(l -> REPLACED.contains(l.getName()));
        Set<String> seen = new LinkedHashSet<>();
        Level strongest = Level.ADVISORY;
        for (Rule r : rules) {
            add(labels, seen, "epic", RuleSources.interfaceName(r));
            add(labels, seen, "feature", r.area());
            add(labels, seen, "story", r.id() + ": " + r.statement());
            add(labels, seen, "tag", r.level().group());
            add(labels, seen, "tag", r.id());
            if (r.level().ordinal() < strongest.ordinal()) {
                strongest = r.level();
            }
        }
        labels.add(new Label().setName("severity").setValue(severity(strongest)));
        result.setLabels(labels);

        List<Link> links = new ArrayList<>(result.getLinks() == null ? List.of() : result.getLinks());
        Set<String> linkSeen = new LinkedHashSet<>();
        for (Link l : links) {
            linkSeen.add(l.getName() + "|" + l.getUrl());
        }
        for (Rule r : rules) {
            for (RuleSources.Source s : RuleSources.of(r)) {
                String name = r.id() + " — " + s.name();
                if (linkSeen.add(name + "|" + s.url())) {
                    links.add(new Link().setName(name).setUrl(s.url()).setType("link"));
                }
            }
        }
        result.setLinks(links);

        if (isBlank(result.getDescription()) && isBlank(result.getDescriptionHtml())) {
            StringBuilder d = new StringBuilder();
            for (Rule r : rules) {
                d.append("**").append(r.id()).append("** (").append(r.level().group()).append(", ")
                        .append(r.area()).append("): ").append(r.statement()).append("\n\nSource: ")
                        .append(r.source()).append("\n\n");
            }
            result.setDescription(d.toString().strip());
        }

        if (result.getStatus() == Status.SKIPPED) {
            StatusDetails details = result.getStatusDetails() == null ? new StatusDetails() : result.getStatusDetails();
            String message = details.getMessage();
            if (message == null || !message.startsWith(NotApplicableException.PREFIX)) {
                result.setStatus(Status.BROKEN);
                details.setMessage("skipped, which the TCK counts as a failure: "
                        + (isBlank(message) ? "no reason given (a configuration method failed, or TestNG skipped it)" : message));
                result.setStatusDetails(details);
            }
        }
    }

    /** required → critical, linux-abi → normal, advisory → minor. */
    public static String severity(Level level) {
        return switch (level) {
            case REQUIRED -> "critical";
            case LINUX_ABI -> "normal";
            case ADVISORY -> "minor";
        };
    }

    private static void add(List<Label> labels, Set<String> seen, String name, String value) {
        if (seen.add(name + "=" + value)) {
            labels.add(new Label().setName(name).setValue(value));
        }
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }

    private Optional<TckRule> tckRule(TestResult result) {
        String className = label(result, "testClass");
        String methodName = label(result, "testMethod");
        if ((className == null || methodName == null) && result.getFullName() != null) {
            String full = result.getFullName();
            int dot = full.lastIndexOf('.');
            if (dot > 0) {
                className = full.substring(0, dot);
                methodName = full.substring(dot + 1);
            }
        }
        if (className == null || methodName == null) {
            return Optional.empty();
        }
        Optional<Class<?>> cls = classes.computeIfAbsent(className, AllureRuleLabels::load);
        if (cls.isEmpty()) {
            return Optional.empty();
        }
        for (Class<?> c = cls.get(); c != null && c != Object.class; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                if (m.getName().equals(methodName) && m.isAnnotationPresent(TckRule.class)) {
                    return Optional.of(m.getAnnotation(TckRule.class));
                }
            }
        }
        return Optional.empty();
    }

    private static String label(TestResult result, String name) {
        if (result.getLabels() == null) {
            return null;
        }
        return result.getLabels().stream().filter(l -> name.equals(l.getName())).map(Label::getValue)
                .findFirst().orElse(null);
    }

    private static Optional<Class<?>> load(String name) {
        List<ClassLoader> loaders = new ArrayList<>();
        if (Thread.currentThread().getContextClassLoader() != null) {
            loaders.add(Thread.currentThread().getContextClassLoader());
        }
        loaders.add(AllureRuleLabels.class.getClassLoader());
        for (ClassLoader l : loaders) {
            try {
                return Optional.of(Class.forName(name, false, l));
            } catch (ClassNotFoundException | LinkageError e) {
                // try the next loader
            }
        }
        return Optional.empty();
    }
}
