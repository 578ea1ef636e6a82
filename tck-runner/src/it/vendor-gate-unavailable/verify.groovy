// The gate fails once, early, with one line when the provider is unavailable: no test runs, no
// "Skipped: 105" green build.
def log = new File(basedir, 'build.log').text
assert log.contains('BUILD FAILURE')
def line = "NOT TESTED: provider 'acme' is unavailable here: ACME VMM did not come up: /run/acme/vmm.sock: Connection refused"
assert log.contains(line) : 'the one line saying why is missing'
// the test phase says it exactly once (Maven's own error summary after BUILD FAILURE restates it)
def testPhase = log.substring(log.indexOf('T E S T S'), log.indexOf('BUILD FAILURE'))
int times = testPhase.count("is unavailable here")
assert times == 1 : "the test phase says it ${times} times (once per test?)"
assert testPhase.contains('Tests run: 0, Failures: 0, Errors: 0, Skipped: 0') : 'tests ran although the gate had failed'

assert !(log =~ /Tests run: [1-9]\d*, Failures: \d+, Errors: \d+, Skipped: [1-9]/) : 'tests ran (and were skipped) although nothing could be tested'
println "vendor-gate-unavailable: build failed early, the reason said once in the test phase; no test ran"
return true
