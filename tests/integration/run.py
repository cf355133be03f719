#!/usr/bin/env python3
"""Run the integration suite.

    HERALD_BIN=build/asan/herald python3 tests/integration/run.py [FILTER...]

Discovers tests/integration/test_*.py and runs them with unittest
(verbosity 2).  A FILTER keeps the tests whose full id
(module.Class.test_method) contains it; several filters are OR-ed.  The
last line printed is exactly "N passed, N failed" (plus ", N skipped" when
any were skipped); the exit status is 1 when any test failed or errored.
Expected failures (known server bugs) count as passed, unexpected successes
as failed: a fixed bug must have its expectedFailure marker removed.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main(argv):
    filters = [a for a in argv if not a.startswith("-")]
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    discovered = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if filters:
        # keep class grouping so that setUpClass runs once per class
        suite = unittest.TestSuite()
        for t in iter_tests(discovered):
            tid = t.id()
            if isinstance(t, unittest.loader._FailedTest) or any(f in tid for f in filters):
                suite.addTest(t)
    else:
        suite = discovered
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout)
    result = runner.run(suite)
    # a test with failing subtests appears once per subtest: count tests.
    # errors in setUpClass/tearDownClass (e.g. a sanitizer report at stop)
    # are not tests of their own: each counts as one failure, not as a run.
    bad_tests, holders = set(), 0
    for t, _ in result.failures + result.errors:
        if isinstance(t, unittest.suite._ErrorHolder):
            holders += 1
        else:
            bad_tests.add(getattr(t, "test_case", t).id())
    for t in result.unexpectedSuccesses:
        bad_tests.add(t.id())
    skipped = len({t.id() for t, _ in result.skipped})
    passed = result.testsRun - len(bad_tests) - skipped
    failed = len(bad_tests) + holders
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    sys.stdout.flush()
    print(line, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
