"""The floors of the code: `cdp` → `people` → `events` → `flows`, and no import circles.

Every module of the four apps is parsed with `ast` (imports at module level and inside
functions alike, since an import hidden in a function is still a dependency). Two rules:

- a module imports only from its own floor or below: `cdp` from none of the others,
  `people` not from `events` or `flows`, `events` not from `flows`. A higher floor that must
  act on a lower one's rows registers a handler at `AppConfig.ready()` (docs/ARCHITECTURE.md);
- no circle of modules importing each other, directly or through others.

Run as a script (`python tests/test_import_graph.py`) it prints the circles and the
function-level imports, which helps when one of the tests fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("cdp", "people", "events", "flows")
FLOOR = {app: level for level, app in enumerate(APPS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The deepest module of ours that `name` (a dotted path) names or lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported module of ours, line, inside a function) for every import of `module`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the submodule; `from mod import name` the module.
                names = [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = _target(name)
                if target and target != module:
                    found.append((target, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, str, int]]]:
    edges: dict[str, set[str]] = {module: set() for module in MODULES}
    hidden = []
    for module, path in MODULES.items():
        for target, line, in_function in _imports(module, path):
            edges[module].add(target)
            if in_function:
                hidden.append((module, target, line))
    return edges, hidden


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each as one circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return [_one_circle(component, edges) for component in components]


def _one_circle(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest path from the component's first module back to itself, for the message."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return component


def test_modules_found():
    assert "cdp.errors" in MODULES
    assert "people.segments.compiler" in MODULES
    assert "flows.engine" in MODULES


def _upward(edges: dict[str, set[str]]) -> list[str]:
    """Every import of a module from a higher floor than its own."""
    return [
        f"{module} imports {target}"
        for module, targets in sorted(edges.items())
        for target in sorted(targets)
        if FLOOR[target.split(".")[0]] > FLOOR[module.split(".")[0]]
    ]


def test_floors():
    """A module imports from its own floor or below."""
    edges, _ = _graph()
    upward = _upward(edges)
    assert not upward, "imports from a higher floor:\n" + "\n".join(upward)


def test_no_import_circles():
    edges, _ = _graph()
    circles = _circles(edges)
    assert not circles, "import circles:\n" + "\n".join(" → ".join(c) for c in circles)


def test_the_checker_finds_a_circle_and_an_upward_import():
    """The checks above can fail: made-up graphs with a circle and an upward import are
    reported, and a real module's imports (module and function level) are all found."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(edges) == [["a", "b", "c", "a"]]
    assert _upward({"cdp.x": {"people.y"}, "flows.z": {"cdp.x"}}) == ["cdp.x imports people.y"]
    found = _imports("events.apps", MODULES["events.apps"])
    assert ("people.merge", True) in {(target, hidden) for target, _, hidden in found}
    assert all(target in MODULES for target, _, _ in found)


if __name__ == "__main__":
    edges, hidden = _graph()
    circles = _circles(edges)
    print(f"{len(MODULES)} modules, {sum(map(len, edges.values()))} imports between them")
    print(f"{len(circles)} circles (strongly connected components):")
    for circle in circles:
        print("  " + " → ".join(circle))
    upward = _upward(edges)
    print(f"{len(upward)} imports from a higher floor:")
    for line in upward:
        print("  " + line)
    statements = sorted({(module, line) for module, _, line in hidden})
    ready = [(m, line) for m, line in statements if m.endswith(".apps")]
    print(
        f"{len(statements)} function-level import statements "
        f"({len(ready)} of them in AppConfig.ready(), which registers handlers):"
    )
    for module, target, line in sorted(hidden):
        if not module.endswith(".apps"):
            print(f"  {module}:{line} → {target}")
