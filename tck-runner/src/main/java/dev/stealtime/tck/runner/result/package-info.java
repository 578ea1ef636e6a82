/**
 * The result model of a run (outcomes, rule results, verdict, the typed summary) and its
 * renderers: conformance.json/.md, junit.xml, KTAP, the Allure results and HTML report.
 */
package dev.stealtime.tck.runner.result;
