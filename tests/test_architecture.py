"""The shape of the code (issue 15), checked on every run so it cannot drift back.

- no import cycles among esctl's modules;
- no SQL text outside esctl/store/, nor statements sent to a session there (features call ports
  in domain verbs);
- no module over 400 lines, except a short allow-list that says why;
- no command or feature branches on the output format (formats are the renderer's);
- no library module imports presentation code (rich, typer, the renderer);
- every top-level module sits in a layer of the import-linter contract (pyproject.toml), so a new
  module cannot escape `make lint` by being left out of it.

Each check fails with the list of its offenders. The import graph comes from grimp (which
import-linter brings): it reads the source, so imports inside functions count as much as those at
the top of a module."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "esctl"
STORE = PACKAGE / "store"
MAX_LINES = 400

# Modules allowed over MAX_LINES, each with the reason it is better whole than split. Keep it
# short: an entry is a promise that splitting would scatter one idea over files. The test also
# fails on an entry that no longer needs its place (the module shrank or went away).
LONG_MODULES: dict[str, str] = {}

# Where presentation lives: the command line and the renderer.
PRESENTATION = ("esctl.cli", "esctl.render")
PRESENTATION_LIBRARIES = ("rich", "typer")
ENTRY_POINT = "esctl.__main__"  # `python -m esctl`: above the command line, it only calls it

SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH)\s")
TABLE_PLACEHOLDER = re.compile(
    r"\{(events|snapshots|checkpoints|leases|esctl_schema|esctl_leases)\}"
)


@cache
def import_graph(*, type_checking: bool) -> grimp.ImportGraph:
    """esctl's import graph; `type_checking` keeps the imports under `if TYPE_CHECKING:`."""
    return grimp.build_graph(
        "esctl",
        include_external_packages=True,
        exclude_type_checking_imports=not type_checking,
        cache_dir=None,
    )


def esctl_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == "esctl" or m.startswith("esctl."))


def module_files() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module in the esctl package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's strongly connected components of esctl's own modules, largest first (size > 1)."""
    modules = esctl_modules(graph)
    edges = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in set(modules))
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = edges[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(components, key=lambda c: (-len(c), c))


def shortest_cycle(graph: grimp.ImportGraph, component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module, for the failure message."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.find_modules_directly_imported_by(node)):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    return component


def test_no_import_cycles() -> None:
    """Imports under `if TYPE_CHECKING:` are left out: they never run, so they cannot make an
    import order matter, and annotations may name a type from a module that imports this one."""
    graph = import_graph(type_checking=False)
    cycles = [
        f"{len(c)} modules: {', '.join(c)}\n    e.g. {' -> '.join(shortest_cycle(graph, c))}"
        for c in strongly_connected(graph)
    ]
    assert not cycles, "import cycles in esctl:\n  " + "\n  ".join(cycles)


def docstring_nodes(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings (prose may mention SELECT or {events})."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def sql_literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal in `path` that reads as SQL."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # its parts are read with it, not again on their own
            skip.update(id(part) for part in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip:
                continue
            text = node.value
        else:
            continue
        if SQL_START.match(text) or TABLE_PLACEHOLDER.search(text):
            yield node.lineno, text


def sql_offenders(files: list[Path]) -> list[str]:
    offenders = []
    for path in files:
        for line, text in sorted(sql_literals(path)):
            snippet = " ".join(text.split())[:70]
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {snippet}")
    return offenders


def test_the_sql_check_sees_sql() -> None:
    """The scan finds the store's own SQL (so an empty offender list means something)."""
    found = sql_offenders(sorted(STORE.rglob("*.py")))
    assert any("INSERT INTO {events}" in line for line in found), found[:5]
    assert any(": SELECT " in line for line in found), found[:5]


def test_no_sql_outside_the_store() -> None:
    files = [p for _, p in module_files() if STORE not in p.parents]
    offenders = sql_offenders(files)
    assert not offenders, (
        f"SQL text outside esctl/store/ ({len(offenders)}; features call ports):\n  "
        + "\n  ".join(offenders)
    )


RAW_SESSION_CALL = re.compile(
    r"\b(session|tx|transaction)\.(execute|executemany|fetchall|fetchone|fetchval|stream)\("
)


def test_no_raw_session_calls_outside_the_store() -> None:
    """Features reach a transaction through its ports (`tx.log`, `tx.checkpoints`, …), never by
    sending it statements (which is how SQL would creep back in, built from pieces)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for _, path in module_files()
        if STORE not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RAW_SESSION_CALL.search(line)
    ]
    assert not offenders, "raw session calls outside esctl/store/:\n  " + "\n  ".join(offenders)


def test_the_session_call_check_sees_calls() -> None:
    """The pattern matches the store's own calls (so an empty offender list means something)."""
    store_lines = "\n".join(p.read_text(encoding="utf-8") for p in STORE.rglob("*.py"))
    assert RAW_SESSION_CALL.search(store_lines)


FORMAT_NAMES = {"table", "wide", "json", "jsonl", "csv"}


def format_branches(source: str) -> list[int]:
    """Lines of `source` that compare something named like an output format with a format's
    name (`out.output == "json"`, `fmt in ("csv", "jsonl")`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        constants = {
            element.value
            for operand in operands
            for element in (
                operand.elts if isinstance(operand, ast.Tuple | ast.List | ast.Set) else [operand]
            )
            if isinstance(element, ast.Constant)
        }
        named = any(
            word in ast.unparse(operand).lower()
            for operand in operands
            if not isinstance(operand, ast.Constant)
            for word in ("output", "format", "fmt")
        )
        if named and constants & FORMAT_NAMES:
            lines.append(node.lineno)
    return lines


def test_the_format_branch_check_sees_branches() -> None:
    assert format_branches('if out.output == "json":\n    pass\n') == [1]
    assert format_branches('x = fmt in ("csv", "jsonl")\n') == [1]
    assert format_branches('if "table" in size:\n    pass\n') == []


def test_commands_never_branch_on_the_output_format() -> None:
    """A format is one module under esctl/render/formats/: commands and features call the
    renderer's semantic methods and never ask which format was chosen."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for name, path in module_files()
        if not name.startswith("esctl.render")
        for line in format_branches(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "branches on the output format outside esctl/render:\n  " + "\n  ".join(
        offenders
    )


def long_modules() -> dict[str, int]:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in module_files()
    }
    return {name: lines for name, lines in sizes.items() if lines > MAX_LINES}


def test_no_module_over_400_lines() -> None:
    too_long = long_modules()
    offenders = [
        f"{name}: {lines} lines"
        for name, lines in sorted(too_long.items())
        if name not in LONG_MODULES
    ]
    assert not offenders, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(offenders)


def test_the_long_module_allow_list_is_still_needed() -> None:
    stale = sorted(set(LONG_MODULES) - set(long_modules()))
    assert not stale, f"LONG_MODULES entries no longer over {MAX_LINES} lines (remove): {stale}"


def is_presentation(module: str) -> bool:
    return any(module == top or module.startswith(top + ".") for top in PRESENTATION)


def test_library_modules_do_not_import_presentation() -> None:
    """Below esctl.cli and the renderer, nothing imports rich, typer or the renderer; imports
    under `if TYPE_CHECKING:` count too (an annotation naming the renderer is still coupling)."""
    graph = import_graph(type_checking=True)
    offenders = []
    for module in esctl_modules(graph):
        if is_presentation(module) or module == ENTRY_POINT:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            top = imported.split(".")[0]
            if top in PRESENTATION_LIBRARIES or is_presentation(imported):
                lines = sorted(
                    str(d["line_number"])
                    for d in graph.get_import_details(importer=module, imported=imported)
                )
                offenders.append(f"{module} imports {imported} (line {', '.join(lines)})")
    assert not offenders, "library modules importing presentation code:\n  " + "\n  ".join(
        offenders
    )


def contract_layers() -> list[str]:
    """The module names of the layers contract in pyproject.toml (optional ones included)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = (c["layers"] for c in contracts if c["type"] == "layers")
    names = []
    for layer in layers:
        for part in re.split(r"[:|]", layer.replace("\\\n", " ")):
            names.append(part.strip().strip("()").strip())
    return names


def test_every_module_is_in_a_layer() -> None:
    """A top-level module the layers contract does not list is not checked by it at all."""
    listed = set(contract_layers())
    assert "esctl.cli" in listed and "esctl.types" in listed, sorted(listed)
    top_level = {".".join(name.split(".")[:2]) for name, _ in module_files() if name != "esctl"}
    missing = sorted(top_level - listed)
    assert not missing, (
        "top-level esctl modules in no layer of [tool.importlinter] in pyproject.toml "
        f"(add each to the layer it belongs to): {missing}"
    )
