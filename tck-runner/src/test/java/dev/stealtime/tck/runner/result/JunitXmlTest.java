package dev.stealtime.tck.runner.result;

import dev.stealtime.tck.rules.Rule;
import dev.stealtime.tck.rules.RuleCatalogue;
import dev.stealtime.tck.runner.reference.ReferenceProvider;
import dev.stealtime.tck.runner.run.ConformanceSummary;
import dev.stealtime.tck.runner.run.Suite;
import dev.stealtime.tck.support.TckConfig;
import org.testng.annotations.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** junit.xml: a testcase per rule, failures with their whole message, not-applicable as skipped, always well-formed XML. */
public class JunitXmlTest {

    @Test
    public void aTestcasePerRuleWithFailureMessagesInFull() throws Exception {
        List<Rule> rules = RuleCatalogue.get().all();
        List<RuleResult> results = new ArrayList<>();
        String nasty = "expected <0x10> & saw \"0x11\"\nsecond line\u0001 with a control character";
        for (int i = 0; i < rules.size(); i++) {
            Rule r = rules.get(i);
            Outcome o = i == 0 ? Outcome.FAIL : i == 1 ? Outcome.NOT_APPLICABLE : Outcome.PASS;
            String msg = o == Outcome.FAIL ? nasty : o == Outcome.NOT_APPLICABLE ? "needs MULTI_VCPU" : "";
            results.add(new RuleResult(r, o, List.of(new TestOutcome("T.m", List.of(r.id()), o, msg, 3)), msg, 3));
        }
        Path dir = Files.createTempDirectory("junit-xml");
        try {
            RunSummary summary = ConformanceSummary.build(new RunResult(results, List.of(), Duration.ofSeconds(2)),
                    new ReferenceProvider(), TckConfig.fromEnvironment(), List.of(Suite.values()));
            Path file = JunitXml.write(dir, summary);
            Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
            NodeList cases = doc.getElementsByTagName("testcase");
            assertThat(cases.getLength()).isEqualTo(rules.size());
            Element failed = (Element) cases.item(0);
            assertThat(failed.getAttribute("name")).isEqualTo(rules.get(0).id());
            Element failure = (Element) failed.getElementsByTagName("failure").item(0);
            assertThat(failure.getAttribute("message")).isEqualTo("expected <0x10> & saw \"0x11\"");
            assertThat(failure.getTextContent()).contains(rules.get(0).statement()).contains("second line\\u0001 with a control character")
                    .contains("T.m: FAIL");
            assertThat(((Element) cases.item(1)).getElementsByTagName("skipped").item(0).getAttributes().getNamedItem("message").getNodeValue())
                    .isEqualTo("needs MULTI_VCPU");
            assertThat(((Element) cases.item(2)).getChildNodes().getLength()).isZero();
            Element root = doc.getDocumentElement();
            assertThat(root.getAttribute("tests")).isEqualTo(String.valueOf(rules.size()));
            assertThat(root.getAttribute("failures")).isEqualTo("1");
            assertThat(root.getAttribute("skipped")).isEqualTo("1");
        } finally {
            Files.deleteIfExists(dir.resolve(JunitXml.FILE));
            Files.delete(dir);
        }
    }
}
