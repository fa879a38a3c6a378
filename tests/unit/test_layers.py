"""The house's layering (STYLE.md), checked on the imports of every module: a request walks one way,
so nothing below the doors imports Litestar, `providers` knows nothing of the gateway, and no door
imports another."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    paths = sorted((ROOT / package).rglob("*.py"))
    assert paths, package
    return paths


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules(package)
        for name in sorted(imports(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_nothing_below_the_doors_imports_litestar() -> None:
    for package in ("gateway/core", "gateway/store", "providers"):
        assert offenders(package, ("litestar",)) == []


def test_providers_know_nothing_of_the_gateway() -> None:
    assert offenders("providers", ("gateway",)) == []


def test_the_core_and_the_store_know_no_door_and_no_http_edge() -> None:
    for package in ("gateway/core", "gateway/store"):
        assert offenders(package, ("gateway.doors", "gateway.http")) == []


def test_no_door_imports_another() -> None:
    doors = [p.name for p in (ROOT / "gateway" / "doors").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert "freddy" in doors
    for door in doors:
        others = tuple(f"gateway.doors.{d}" for d in doors if d != door)
        assert offenders(f"gateway/doors/{door}", others) == []


def test_no_private_name_is_imported_across_modules() -> None:
    private = [
        f"{path.relative_to(ROOT)} imports {alias.name} from {node.module}"
        for package in ("gateway", "providers")
        for path in modules(package)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith(("gateway", "providers"))
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []
