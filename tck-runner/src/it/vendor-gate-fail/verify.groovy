// The hypervisor with one defect (x86 flags != 0): the TCK failed its `mvn verify`, and the log
// names the failing rule.
import groovy.json.JsonSlurper

def log = new File(basedir, 'build.log').text
assert log.contains('BUILD FAILURE')
assert log.contains('There are test failures') : 'the build failed, but not because a TCK test failed'
// TCK test names carry their rule: X86_FLAGS_ZERO_... is X86-FLAGS-ZERO
assert log =~ /X86_FLAGS_ZERO_\w+/ : 'the build log does not name the failing rule X86-FLAGS-ZERO'

// the Allure results say which rule, by id
def dir = new File(basedir, 'target/allure-results')
def results = (dir.listFiles() ?: []).findAll { it.name.endsWith('-result.json') }.collect { new JsonSlurper().parse(it) }
def failedStories = results.findAll { it.status in ['failed', 'broken'] }
        .collectMany { r -> r.labels.findAll { it.name == 'story' }*.value }.unique().sort()
assert failedStories.any { it.startsWith('X86-FLAGS-ZERO: ') } : "failed rules: ${failedStories}"
// `mvn allure:report` after the failed gate: one self-contained HTML file
def html = new File(basedir, 'target/site/allure-maven-plugin/index.html')
assert html.isFile() && html.length() > 100_000 : "no Allure HTML report at ${html}"
println "vendor-gate-fail: the build failed on rule(s) ${failedStories.collect { it.substring(0, it.indexOf(':')) }}"
return true
