"""pyproject.toml packages the whole product: every app of the checkout, and every file an app
needs at run time (templates, static files, translations), so that a built wheel runs without the
checkout. (A build itself is checked by hand, see docs/operations.md; this test fails as soon as
an app or a data file type is added that the configuration would leave out.)"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from django.apps import apps
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def packaged(module: str) -> bool:
    include = SETUPTOOLS["packages"]["find"]["include"]
    return any(fnmatch.fnmatch(module, pattern) for pattern in include)


def source_files(package: str) -> list[Path]:
    """The package's files as a checkout has them (no bytecode, no editor leftovers)."""
    return [
        path.relative_to(ROOT)
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    ]


def local_apps() -> list[str]:
    return sorted(
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT)
        # a virtualenv inside the checkout (`make` puts it in .venv) holds the libraries' apps
        and "site-packages" not in Path(config.path).parts
    )


def test_every_app_of_the_checkout_and_the_project_package_is_packaged():
    names = [*local_apps(), "teleradiology"]
    assert {"worklists", "reports", "dicom", "hl7_interface", "demo_ris"} <= set(names)
    assert [name for name in names if not packaged(name)] == []
    assert not packaged("tests")
    assert not packaged("benchmarks")


def test_every_data_file_of_a_package_is_package_data():
    patterns = SETUPTOOLS["package-data"]["*"]
    left_out = [
        str(path)
        for package in [*local_apps(), "teleradiology"]
        for path in source_files(package)
        if path.suffix != ".py" and not any(fnmatch.fnmatch(path.name, p) for p in patterns)
    ]
    assert left_out == []


def test_templates_static_files_and_translations_are_inside_a_package():
    # An installed copy has no checkout around it: nothing may be read from outside a package.
    package = ROOT / "teleradiology"
    for directory in [*settings.LOCALE_PATHS, *settings.STATICFILES_DIRS]:
        assert Path(directory).resolve().is_relative_to(package), directory
    for template_dir in settings.TEMPLATES[0]["DIRS"]:
        assert Path(template_dir).resolve().is_relative_to(package), template_dir


def test_the_licence_is_an_spdx_expression_not_the_deprecated_table():
    assert PYPROJECT["project"]["license"] == "AGPL-3.0-or-later"
