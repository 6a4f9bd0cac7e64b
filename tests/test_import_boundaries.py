"""The boundaries between the apps hold (import-linter contracts in pyproject.toml), there is no
import cycle, and no production code dodges one with an import inside a function.

Each check is also shown failing on code that breaks it, so none of them passes by construction.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "teleradiology",
    "worklists",
    "reports",
    "dicom",
    "hl7_interface",
    "demo_ris",
    "indicators",
    "quality",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Function-level imports that are allowed, each with its reason. Keep it empty: an import inside
# a function hides a dependency (and usually a cycle) from the contracts above. AppConfig.ready()
# and `if TYPE_CHECKING:` blocks are legitimate and not listed (see _function_level_imports).
ALLOWED_FUNCTION_IMPORTS: dict[str, str] = {}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the packages under ``cwd`` (found first on the path, not the
    installed copy) with the contracts of ``cwd``'s pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(  # noqa: S603 (our own venv's executable, fixed arguments)
        [str(LINT_IMPORTS), "--no-cache", str(cwd / "pyproject.toml")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]


def test_the_contracts_cover_the_seven_boundaries():
    ids = {
        contract["id"]
        for contract in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
            "importlinter"
        ]["contracts"]
    }
    assert ids == {
        "infrastructure",
        "core",
        "quality-plugs-in",
        "demo-tool",
        "routing-pure",
        "planner-pure",
        "models-below-edges",
    }


def test_every_import_contract_is_kept():
    result = _lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    for name in _contract_names():
        assert f"{name} KEPT" in result.stdout


@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """A copy of the project's packages with one planted import breaking each contract."""
    copy = tmp_path_factory.mktemp("broken")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            copy / package,
            ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "locale"),
        )
    planted = {
        "teleradiology/planted_app_import.py": "from reports import models\n",
        "worklists/planted_adapter_import.py": "from dicom.services import completion\n",
        "worklists/planted_indicators_import.py": "from indicators import selectors\n",
        "worklists/models/planted_service_import.py": "from worklists.services import claims\n",
        "hl7_interface/planted_demo_import.py": "from demo_ris import receiver\n",
    }
    for path, source in planted.items():
        (copy / path).write_text(source)
    routing = copy / "worklists" / "routing.py"
    routing.write_text(routing.read_text() + "\nfrom django.utils import timezone  # planted\n")
    replay = copy / "worklists" / "planner" / "simulate.py"
    replay.write_text(replay.read_text() + "\nfrom django.utils import timezone  # planted\n")
    return _lint_imports(copy)


@pytest.mark.parametrize(
    ("contract_id", "planted_import"),
    [
        ("infrastructure", "teleradiology.planted_app_import -> reports.models"),
        ("core", "worklists.planted_adapter_import -> dicom.services.completion"),
        ("core", "worklists.planted_indicators_import -> indicators.selectors"),
        ("demo-tool", "hl7_interface.planted_demo_import -> demo_ris.receiver"),
        ("routing-pure", "worklists.routing -> django (l."),
        ("planner-pure", "worklists.planner.simulate -> django (l."),
        (
            "models-below-edges",
            "worklists.models.planted_service_import -> worklists.services.claims",
        ),
    ],
)
def test_a_planted_import_breaks_its_contract(broken_copy, contract_id, planted_import):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    name = next(
        c["name"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == contract_id
    )

    assert broken_copy.returncode == 1, broken_copy.stdout + broken_copy.stderr
    assert f"{name} BROKEN" in broken_copy.stdout
    assert planted_import in broken_copy.stdout


# Import cycles --------------------------------------------------------------------------------


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        following: str | None = start
        while True:
            if following is not None and following not in index:
                index[following] = low[following] = len(index)
                stack.append(following)
                on_stack.add(following)
                imported = sorted(graph.find_modules_directly_imported_by(following))
                work.append((following, iter(imported)))
            if not work:
                break
            module, imported_iter = work[-1]
            following = next(imported_iter, None)
            if following is not None:
                if following in on_stack:
                    low[module] = min(low[module], index[following])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_module_imports_itself_through_a_cycle():
    # Type-only imports are not run, so they make no cycle; AppConfig.ready() runs after every
    # module is loaded, and no module imports an apps module.
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)

    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = grimp.ImportGraph()
    for importer, imported in [("app.tasks", "app.services"), ("app.services", "app.push")]:
        graph.add_import(importer=importer, imported=imported)
    graph.add_import(importer="app.models", imported="app.push")
    assert import_cycles(graph) == []

    graph.add_import(importer="app.push", imported="app.tasks")

    assert import_cycles(graph) == [["app.push", "app.services", "app.tasks"]]


# Function-level imports -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FunctionImport:
    path: str
    line: int
    function: str
    statement: str

    @property
    def key(self) -> str:
        return f"{self.path}:{self.function}:{self.statement}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_app_config(node: ast.ClassDef) -> bool:
    return any(ast.unparse(base).endswith("AppConfig") for base in node.bases)


def _function_level_imports(source: str, path: str) -> list[FunctionImport]:
    """Imports inside a function body, except in AppConfig.ready() (where an app registers
    itself once every model is loaded) and under ``if TYPE_CHECKING:`` (never run)."""
    found: list[FunctionImport] = []

    def visit(node: ast.AST, function: str | None, in_app_config: bool) -> None:
        children: list[ast.AST] = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children = list(node.orelse)
        elif isinstance(node, ast.ClassDef):
            in_app_config = _is_app_config(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if in_app_config and function is None and node.name == "ready":
                return
            function = node.name if function is None else f"{function}.{node.name}"
            in_app_config = False
        elif isinstance(node, ast.Import | ast.ImportFrom) and function is not None:
            found.append(FunctionImport(path, node.lineno, function, ast.unparse(node)))
        for child in children:
            visit(child, function, in_app_config)

    visit(ast.parse(source), None, False)
    return found


def _production_modules() -> Iterable[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                yield path


def test_no_production_code_imports_inside_a_function():
    found = [
        found
        for path in _production_modules()
        for found in _function_level_imports(path.read_text(), str(path.relative_to(ROOT)))
    ]
    unexpected = [f for f in found if f.key not in ALLOWED_FUNCTION_IMPORTS]

    assert unexpected == [], "\n".join(
        f"{f.path}:{f.line} in {f.function}: {f.statement}" for f in unexpected
    )
    # An allowance whose import is gone must go too, so the list stays short and true.
    assert set(ALLOWED_FUNCTION_IMPORTS) <= {f.key for f in found}


def test_the_scan_finds_an_import_inside_a_function_but_not_in_ready_or_type_checking():
    source = textwrap.dedent(
        """
        from typing import TYPE_CHECKING

        from django.apps import AppConfig

        if TYPE_CHECKING:
            from worklists.models import Study


        class WorklistsConfig(AppConfig):
            def ready(self) -> None:
                from worklists import tasks


        class Service:
            def run(self) -> None:
                from worklists.tasks import route_study_task


        def schedule() -> None:
            if TYPE_CHECKING:
                from worklists.tasks import reader_fill_queue_task
            else:
                import celery

            def later() -> None:
                import json
        """
    )

    found = _function_level_imports(source, "planted.py")

    assert [(f.function, f.statement) for f in found] == [
        ("run", "from worklists.tasks import route_study_task"),
        ("schedule", "import celery"),
        ("schedule.later", "import json"),
    ]
