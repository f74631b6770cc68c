"""Architecture and lint rules run as tests: import-linter contracts, ruff and mypy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    located = shutil.which(name)
    if located is None:
        pytest.fail(f"{name} is not installed; install the project with the [test] extra")
    return located


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_import_contracts_are_kept() -> None:
    code, output = _run([_tool("lint-imports"), "--no-cache"], REPO)
    assert code == 0, output
    assert "0 broken" in output


def test_ruff_finds_nothing() -> None:
    code, output = _run([_tool("ruff"), "check", "--no-cache", "src", "tests"], REPO)
    assert code == 0, output


def _mypy(*args: str) -> tuple[int, str]:
    # The venv's interpreter, so mypy sees the same installed packages as the tests.
    return _run([sys.executable, "-m", "mypy", *args], REPO)


def test_mypy_strict_finds_nothing() -> None:
    # [tool.mypy] in pyproject.toml: strict, files = ["src"].
    code, output = _mypy()
    assert code == 0, output
    assert "Success: no issues found" in output, output


def test_mypy_config_is_strict(tmp_path: Path) -> None:
    probe = tmp_path / "mypy_strictness_probe.py"
    probe.write_text("def untyped(x):\n    return x\n\n\ncount: int = 'one'\n")
    code, output = _mypy("--config-file", str(REPO / "pyproject.toml"), str(probe))
    assert code != 0, output
    assert "Function is missing a type annotation" in output, output
    assert "Incompatible types in assignment" in output, output


# A fake eolc_fhir package with one violation per contract proves the contracts bite.
_FAKE_PACKAGES = [
    "api", "services", "validation", "search", "subscriptions", "security", "storage", "fhir",
    "report", "web",
]
_FAKE_MODULES = {
    "storage/reaches_up.py": "from eolc_fhir.api import routes\n",
    "services/uses_sql.py": "import sqlalchemy\n",
    "search/uses_web.py": "from starlette.responses import Response\n",
    "validation/uses_models.py": "from fhir.resources.R4B import patient\n",
    "storage/ok_sql.py": "from sqlalchemy.ext.asyncio import AsyncEngine\n",
    "api/ok_web.py": "import fastapi\n",
    "fhir/models.py": "from fhir.resources.R4B import get_fhir_model_class\n",
    "api/uses_storage.py": "from eolc_fhir.storage import door\n",
    "storage/door.py": "",
    "services/uses_storage_internals.py": "from eolc_fhir.storage import tables\n",
    "fhir/cycle_a.py": "from eolc_fhir.fhir import cycle_b\n",
    "fhir/cycle_b.py": "from eolc_fhir.fhir import cycle_a\n",
    "search/registry.py": "from eolc_fhir.search import matcher\n",
    "services/wishes.py": "from eolc_fhir.services import subscriptions\n",
    "report/plots.py": "import sqlalchemy\n",
    "web/reads_db.py": "from eolc_fhir.storage import door\n",
}


def _named_modules() -> list[str]:
    """Every module the contracts name (protected modules, layers of a container)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    names: list[str] = []
    for contract in config["tool"]["importlinter"]["contracts"]:
        names += contract.get("protected_modules", [])
        names += contract.get("source_modules", [])
        for container in contract.get("containers", []):
            names += [f"{container}.{layer.strip('() ')}" for row in contract["layers"]
                      for layer in row.replace("|", ":").split(":")]
    return names


def _write_fake_package(root: Path) -> None:
    package = root / "eolc_fhir"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text("")
    for name in _FAKE_PACKAGES:
        (package / name).mkdir()
        (package / name / "__init__.py").write_text("")
    for module in _named_modules():  # empty unless given a violation below
        path = root.joinpath(*module.split(".")).with_suffix(".py")
        if path.parent.is_dir():
            path.write_text("")
    for relative, source in _FAKE_MODULES.items():
        (package / relative).write_text(source)


def test_import_contracts_catch_each_violation(tmp_path: Path) -> None:
    _write_fake_package(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    # The repository's own contracts, applied to the fake package found first on the path.
    argv = [_tool("lint-imports"), "--no-cache", str(REPO / "pyproject.toml")]
    code, output = _run(argv, tmp_path, env)
    assert code != 0, output
    assert "0 kept, 11 broken" in output, output
    for line in (
        "eolc_fhir.storage.reaches_up -> eolc_fhir.api",
        "eolc_fhir.services.uses_sql -> sqlalchemy",
        "eolc_fhir.search.uses_web -> starlette",
        "eolc_fhir.validation.uses_models -> fhir",
        "eolc_fhir.api.uses_storage -> eolc_fhir.storage.door",
        "eolc_fhir.services.uses_storage_internals -> eolc_fhir.storage.tables",
        "No cycles are allowed in eolc_fhir.fhir",
        "eolc_fhir.search.registry -> eolc_fhir.search.matcher",
        "eolc_fhir.services.wishes -> eolc_fhir.services.subscriptions",
        "eolc_fhir.report.plots -> sqlalchemy",
        "eolc_fhir.web.reads_db -> eolc_fhir.storage.door",
    ):
        assert line in output, output
    for allowed in ("ok_sql", "ok_web", "fhir.models ->"):
        assert allowed not in output, output

