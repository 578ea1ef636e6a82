// A typo'd tck.provider fails the gate once, early, with one line naming the known ids.
def log = new File(basedir, 'build.log').text
assert log.contains('BUILD FAILURE')
assert log =~ /unknown provider 'acme-typo' \(known: [^)]*acme[^)]*\)/ : 'the one line naming the unknown id and the known ones is missing'
// the test phase says it exactly once (Maven's own error summary after BUILD FAILURE restates it)
def testPhase = log.substring(log.indexOf('T E S T S'), log.indexOf('BUILD FAILURE'))
int times = testPhase.count("unknown provider 'acme-typo'")
assert times == 1 : "the test phase says it ${times} times (once per test?)"
assert testPhase.contains('Tests run: 0, Failures: 0, Errors: 0, Skipped: 0') : 'tests ran although the gate had failed'

assert !(log =~ /Tests run: [1-9]\d*, Failures: [1-9]/) : 'tests ran and failed one by one'
int lines = log.readLines().size()
println "vendor-gate-typo: build failed early, the reason said once in the test phase; ${lines} log lines"
return true
