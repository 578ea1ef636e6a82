// The conforming hypervisor's `mvn verify` ran the TCK's suites from their jars and passed.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert log.contains('BUILD SUCCESS')

def totals = (log =~ /Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)\s*\n/).collect { it }
assert totals : 'surefire printed no test summary: did dependenciesToScan find the TCK tests?'
def last = totals[-1]
int run = last[1] as int
assert run > 0 : 'no TCK test ran'
assert (last[2] as int) == 0 && (last[3] as int) == 0

// Allure results are written and labelled from the rule catalogue under plain surefire too
def dir = new File(basedir, 'target/allure-results')
def results = (dir.listFiles() ?: []).findAll { it.name.endsWith('-result.json') }.collect { new JsonSlurper().parse(it) }
assert results : "no Allure results in ${dir}"
def label = { r, n -> r.labels.findAll { it.name == n }*.value }
results.each { r ->
    assert label(r, 'epic') : "${r.name} has no epic"
    assert label(r, 'story').every { it ==~ /(X86|ARM)-[A-Z0-9-]+: .+/ } : "${r.name}: ${label(r, 'story')}"
}
// only the claimed profiles (groups) ran: nothing advisory
assert results.every { r -> !label(r, 'tag').contains('advisory') }
// the gate ends in the browsable report: one self-contained HTML file (opens from disk)
def html = new File(basedir, 'target/site/allure-maven-plugin/index.html')
assert html.isFile() && html.length() > 100_000 : "no Allure HTML report at ${html}"
assert log.contains('Report successfully generated') : 'allure-maven did not report generating the HTML'
println "vendor-gate-pass: ${run} TCK tests passed against the 'acme' provider; ${results.size()} labelled Allure results"
return true
