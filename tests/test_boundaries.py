"""The process boundaries hold: what the action server, the NLU and the channels may import.

Those (and `rasa_ext`) run in Rasa's and the action server's processes. They talk to the
backend over HTTP and share only its contracts (`bot.contracts`), its typed client
(`bot.client`), the text normaliser (`bot.normalize`) and the pure 三包 engine (`bot.sanbao`);
importing a server module would pull the HTTP layer, the database and the desk into Rasa. The
contracts in turn stay pure. The walk is over the source (AST), transitively through
first-party modules, so an import hidden two modules deep is caught too.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("bot", "actions", "nlu", "connectors", "rasa_ext")
# What the other processes may import of the backend package.
SHARED = ("bot.contracts", "bot.client", "bot.normalize", "bot.sanbao", "bot.clock")
# What must never be reached from the contracts or from the other processes.
SERVER_ONLY = ("aiohttp.web", "sqlalchemy", "bot.db", "bot.api", "bot.desk", "bot.tables")
# Rasa's tracker store for scale-out is built on sqlalchemy as Rasa's own is: Rasa's
# database, never the backend's (bot.db and bot.tables stay out of reach).
RASA_STORES = {"connectors.stores": ("sqlalchemy",)}


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    if node.level:
        package = module.split(".")[: -node.level] if node.level else []
        base = ".".join([*package, node.module] if node.module else package)
    else:
        base = node.module or ""
    names = [base]
    # `from bot import tables` imports the module bot.tables.
    names += [
        f"{base}.{alias.name}" for alias in node.names if _module_file(f"{base}.{alias.name}")
    ]
    return names


@cache
def direct_imports(module: str) -> frozenset[str]:
    path = _module_file(module)
    if path is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, node))
    # Importing a.b.c runs a/__init__ and a/b/__init__ first.
    for name in list(found):
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(found)


def closure(module: str) -> dict[str, str]:
    """Every module `module` imports, directly or not, with the first-party module that does."""
    seen: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        for name in direct_imports(current):
            if name in seen or name == module:
                continue
            seen[name] = current
            if name.split(".")[0] in FIRST_PARTY:
                todo.append(name)
    return seen


def _crossings(module: str, allowed: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    problems = []
    for name, via in sorted(closure(module).items()):
        inside = name == "bot" or name.startswith("bot.")
        if (inside and name != "bot" and not name.startswith(allowed)) or name.startswith(
            forbidden
        ):
            problems.append(f"{name} (imported by {via})")
    return problems


def _modules(package: str) -> list[str]:
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / package).rglob("*.py")
    )


@pytest.mark.parametrize("module", _modules("actions") + _modules("nlu") + _modules("connectors"))
def test_other_processes_import_only_the_contracts(module: str) -> None:
    forbidden = tuple(f for f in SERVER_ONLY if f not in RASA_STORES.get(module, ()))
    assert _crossings(module, SHARED, forbidden) == []


@pytest.mark.parametrize("module", _modules("rasa_ext"))
def test_rasas_own_extensions_import_only_the_contracts(module: str) -> None:
    # Rasa's tracker store and event broker are SQLAlchemy's; the backend's database is not.
    forbidden = tuple(name for name in SERVER_ONLY if name != "sqlalchemy")
    assert _crossings(module, SHARED, forbidden) == []


@pytest.mark.parametrize("module", [*_modules("bot/contracts"), "bot.client", "bot.sanbao"])
def test_contracts_are_pure(module: str) -> None:
    assert _crossings(module, SHARED, SERVER_ONLY) == []


def test_the_walk_sees_a_crossing() -> None:
    # The server's own modules do reach the database: a walk that found nothing would pass
    # every test above for the wrong reason.
    assert any(c.startswith("bot.db") for c in _crossings("bot.workorders", SHARED, SERVER_ONLY))


def test_tests_share_helpers_only_through_tests_support() -> None:
    # A test module or conftest imported by another test runs its fixtures and collection
    # side effects twice; what tests share lives in tests/support/.
    problems = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name in direct_imports(module):
            last = name.rsplit(".", 1)[-1]
            if name.startswith("tests.") and (last == "conftest" or last.startswith("test_")):
                problems.append(f"{module} imports {name}")
    assert problems == []


def test_a_long_module_says_why_it_is_long() -> None:
    # Modules that each do one job a newcomer can name stay under about 350 lines; a longer
    # one says at its top why it should stay whole.
    long = []
    for package in (*FIRST_PARTY, "scripts"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            doc = ast.get_docstring(ast.parse(text)) or ""
            if text.count("\n") > 350 and "Over 350 lines on purpose" not in doc:
                long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert long == []
