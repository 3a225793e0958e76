"""Runs pytest for ctest (focusnet_add_pytest): python run_pytest.py PYTEST_ARGUMENTS...

With the suite's skip guard as a plugin: at the end every skipped test is listed with its reason, and when
FOCUSNET_ALLOWED_SKIPS names an allow-list (CI, FOCUSNET_REQUIRE_ALL_TESTS), a skip whose reason matches none of its
patterns fails the run, as a run that collected no test does (pytest's exit code 5)."""
import sys

import pytest

import focusnet_skip_guard

if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:], plugins=[focusnet_skip_guard]))
