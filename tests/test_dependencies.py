"""Every third-party package civicbot imports is a runtime dependency in pyproject.toml.

`pip install -e .` must give every command the README and docs name; a package found only in the
test extra (jsonschema, once: `civicbot sandbox validate` and `serve` crashed) fails here.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import sys
import tomllib

from conftest import ROOT


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {_normal(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the civicbot files importing it (lazy imports inside functions too)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "civicbot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top != "civicbot" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_a_runtime_dependency():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module, files in _third_party_imports().items():
        names = {_normal(d) for d in distributions.get(module, [module])}
        if not names & declared:
            missing[module] = sorted(files)
    assert not missing, f"imported but not in pyproject's [project] dependencies: {missing}"


def test_the_check_sees_test_only_packages():
    """The check itself: jsonschema is imported by the simulator and must be found as declared."""
    imports = _third_party_imports()
    assert "jsonschema" in imports and "pandas" in imports
    assert "jsonschema" in _declared() and "pytest" not in _declared()


def test_every_civicbot_module_imports():
    for path in sorted((ROOT / "civicbot").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
