"""Every service is built the same way (STYLE.md, issue 18): its modules sit in the four rooms —
`domain/` (pure), `usecases/` or `handlers.py` (what it does), `adapters/` (the store, Kafka, SMTP,
SMS, XLSX), `entrypoints/` (routes, consumers, loops) — beside `app.py` (the composition root) and
`settings.py`; only the adapters, and the composition root that builds them, touch the database;
the domain imports no framework and no other room; and no two modules import each other, not even
through an import hidden inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "activity", "evaluation", "notification")
ROOMS = ("domain", "adapters", "entrypoints", "usecases", "handlers")
BESIDE_THE_ROOMS = {"__init__.py", "__main__.py", "app.py", "settings.py", "handlers.py"}
# what a pure domain may not import: frameworks, drivers, clients, and the service's other rooms
NOT_IN_THE_DOMAIN = ("fastapi", "starlette", "pymongo", "motor", "aiokafka", "httpx", "openpyxl", "aiosmtplib")


def package(service: str) -> Path:
    return ROOT / "services" / service / f"alliance_{service}"


def modules(service: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of the service's package."""
    top = package(service)
    found = {}
    for path in sorted(top.rglob("*.py")):
        parts = list(path.relative_to(top.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that runs, at module level or inside a function; `if TYPE_CHECKING:` never runs."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


@cache
def imports(service: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports (a name imported from a package counts
    as the module of that name when there is one)."""
    known = modules(service)
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            edges.update(t for t in targets if t in known and t != name)
        graph[name] = edges
    return graph


def _external(service: str, name: str) -> set[str]:
    found = set()
    for node in _imports(ast.parse(modules(service)[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_module_of_a_service_sits_in_one_of_its_rooms(service: str) -> None:
    top = package(service)
    outside = [
        str(path.relative_to(top))
        for path in top.rglob("*.py")
        if not (path.parent == top and path.name in BESIDE_THE_ROOMS)
        and path.relative_to(top).parts[0] not in ROOMS
    ]
    assert outside == []


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_adapters_reach_the_database(service: str) -> None:
    top = package(service)
    reaching = []
    for name, path in modules(service).items():
        if path.relative_to(top).parts[0] == "adapters" or name.endswith(".app"):
            continue  # the composition root hands the database to the adapters it builds
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "db":
                reaching.append(f"{name}:{node.lineno}")
    assert reaching == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_imports_no_framework_and_no_other_room(service: str) -> None:
    domain = f"alliance_{service}.domain"
    impure = {}
    for name, edges in imports(service).items():
        if name == domain or name.startswith(domain + "."):
            rooms = sorted(e for e in edges if not e.startswith(domain))
            frameworks = sorted(_external(service, name) & set(NOT_IN_THE_DOMAIN))
            if rooms or frameworks:
                impure[name] = rooms + frameworks
    assert impure == {}


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_composition_root_imports_the_entrypoints(service: str) -> None:
    """Routes, consumers and loops are the outermost room: a use case, an adapter or the domain
    that reached into them would depend on HTTP."""
    entrypoints = f"alliance_{service}.entrypoints"
    inward = {
        name: sorted(e for e in edges if e == entrypoints or e.startswith(entrypoints + "."))
        for name, edges in imports(service).items()
        if not (name.startswith(entrypoints) or name in (f"alliance_{service}.app", f"alliance_{service}.__main__"))
    }
    assert {name: found for name, found in inward.items() if found} == {}


@pytest.mark.parametrize("service", SERVICES)
def test_no_two_modules_of_a_service_import_each_other(service: str) -> None:
    assert cycles(imports(service)) == []


def test_a_cycle_through_an_import_inside_a_function_is_found() -> None:
    """The check itself: an import hidden in a function body still closes a cycle."""
    source = {"p.sms": "def build():\n    from .aliyun import A\n", "p.aliyun": "from .sms import M\n"}
    graph = {}
    for name, text in source.items():
        edges = set()
        for node in _imports(ast.parse(text)):
            assert isinstance(node, ast.ImportFrom)
            edges.add(f"p.{node.module}")
        graph[name] = edges
    assert cycles(graph) == [["p.aliyun", "p.sms"]]
    assert cycles({"p.sms": set(), "p.aliyun": {"p.sms"}}) == []
