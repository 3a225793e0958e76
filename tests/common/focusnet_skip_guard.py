"""A pytest plugin (loaded by run_pytest.py) that keeps skipped tests from passing unseen.

Every skipped test is listed at the end with its reason. When the environment variable FOCUSNET_ALLOWED_SKIPS names
an allow-list file (one regular expression a line, matched against the skip's reason; blank lines and lines starting
with # ignored), a skip that matches no pattern makes the run fail, and so does a run that ran no test."""
import os
import re

import pytest

_skipped = []


def _allowed_patterns():
    path = os.environ.get("FOCUSNET_ALLOWED_SKIPS")
    if not path:
        return None
    with open(path) as file:
        return [re.compile(line.strip()) for line in file if line.strip() and not line.lstrip().startswith("#")]


def _reason(report):
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    return str(report.longrepr)


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append((report.nodeid, _reason(report)))


def pytest_terminal_summary(terminalreporter):
    patterns = _allowed_patterns()
    for nodeid, reason in _skipped:
        allowed = patterns is None or any(p.search(reason) for p in patterns)
        terminalreporter.write_line("skipped%s: %s: %s" % ("" if allowed else " (NOT ALLOWED)", nodeid, reason))


def pytest_sessionfinish(session, exitstatus):
    patterns = _allowed_patterns()
    if patterns is None:
        return
    refused = [s for s in _skipped if not any(p.search(s[1]) for p in patterns)]
    if refused or exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
