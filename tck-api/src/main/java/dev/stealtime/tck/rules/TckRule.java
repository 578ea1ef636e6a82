package dev.stealtime.tck.rules;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Ties a test method to the catalogue rule(s) it proves. Every TCK test carries it; a build-time
 * check fails when it names an id the catalogue does not have, or when a rule has no test.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface TckRule {
    /** Rule ids, e.g. {@code "X86-VERSION-EVEN"}. */
    String[] value();
}
