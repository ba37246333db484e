"""The simulator stays a separate package: product code reaches it only over HTTP."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import ROOT

PRODUCT = ROOT / "civicbot"
SANDBOX = PRODUCT / "sandbox"


def imported_modules(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the file's package
                package = path.parent.relative_to(ROOT).parts
                base = ".".join(package[: len(package) - node.level + 1] + ((base,) if base else ()))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_product_code_never_imports_the_simulator():
    offenders = []
    for path in PRODUCT.rglob("*.py"):
        if SANDBOX in path.parents:
            continue
        if any(name == "civicbot.sandbox" or name.startswith("civicbot.sandbox.") for name in imported_modules(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_cli_loads_the_simulator_only_when_asked():
    code = "import sys, civicbot.cli; assert 'civicbot.sandbox' not in sys.modules, 'loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_every_suite_size_variable_is_documented():
    import re

    variables = set(re.findall(r"CIVICBOT_[A-Z_]+", (ROOT / "tests" / "sizes.py").read_text(encoding="utf-8")))
    documented = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    assert variables and not {v for v in variables if v not in documented}
