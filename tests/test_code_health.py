"""Every name the project's code uses is defined: a missing import is a crash waiting in a rarely run path.

(The bench's automation step once died on ``NameError: name 'data' is not defined`` and with it ``make
bench-quick`` in CI; no test ran that path.) pyflakes reads the sources without running them.
"""
from pathlib import Path

from pyflakes import api, messages, reporter

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "jobs", "sandbox", "benchmarks", "mailcatcher", "tests")
UNDEFINED = (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)


class _Collect(reporter.Reporter):
    def __init__(self):
        self.found = []

    def flake(self, message):
        if isinstance(message, UNDEFINED):
            self.found.append(str(message))

    def syntaxError(self, filename, msg, lineno, offset, text):
        self.found.append(f"{filename}:{lineno}: {msg}")

    def unexpectedError(self, filename, msg):
        self.found.append(f"{filename}: {msg}")


def test_no_module_uses_a_name_it_never_defines_or_imports():
    collect = _Collect()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "vendor" not in path.parts:
                api.checkPath(str(path), collect)
    assert collect.found == []
