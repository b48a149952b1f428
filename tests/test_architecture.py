"""The module graph as docs/architecture.md draws it, read from the code with ``ast``.

docs/architecture.md's table says what each module may import; these tests hold
every ``import`` of every module of loopnet against it, check that the graph has no
circle, that the CUDA backend is imported only when asked for, and that no module
but ``network`` reads a ``Network``'s private attributes.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "loopnet"
DOC = ROOT / "docs" / "architecture.md"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _owner(name):
    """The module a dotted name lives in: itself, or its longest module prefix."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(name):
    """The loopnet modules ``name`` imports, by ``import`` statements anywhere in it."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(
                _owner(alias.name)
                for alias in node.names
                if alias.name.split(".")[0] == "loopnet"
            )
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}: relative import"
            if node.module is None or node.module.split(".")[0] != "loopnet":
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else _owner(node.module))
    found.discard(name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def _allowed_table():
    """The table of docs/architecture.md: module pattern -> allowed patterns."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What each module may import", 1)[1]
    table = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([^`]+)`", cells[1])
        table[cells[0].strip("`")] = names
    return table


TABLE = _allowed_table()


def _full(pattern):
    return "loopnet" if pattern == "loopnet" else f"loopnet.{pattern}"


def _matches(pattern, name):
    full = _full(pattern)
    if full.endswith(".*"):
        package = full[:-2]
        return name == package or name.startswith(package + ".")
    return name == full


def _row(name):
    """The table row of module ``name``: its exact entry, else its package's ``.*``."""
    exact = [pattern for pattern in TABLE if _full(pattern) == name]
    if exact:
        return exact[0]
    packages = [pattern for pattern in TABLE if _matches(pattern, name)]
    return max(packages, key=len) if packages else None


def test_the_table_is_read():
    assert len(TABLE) >= 20
    assert TABLE["_jit"] == ["_cache", "_cache_stamp"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_row(name):
    assert _row(name) is not None, f"{name} is missing from docs/architecture.md"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_are_those_the_table_allows(name):
    row = _row(name)
    allowed = TABLE[row]
    own = _full(row)[:-2] if row.endswith(".*") else None
    for target in sorted(GRAPH[name]):
        same_package = own is not None and _matches(row, target)
        assert same_package or any(_matches(p, target) for p in allowed), (
            f"{name} imports {target}, which docs/architecture.md does not allow"
            f" (allowed: {allowed})"
        )


def test_no_import_circle():
    visiting, done = set(), set()

    def visit(name, path):
        assert name not in visiting, "import circle: " + " -> ".join(path + [name])
        if name in done:
            return
        visiting.add(name)
        for target in GRAPH[name]:
            visit(target, path + [name])
        visiting.discard(name)
        done.add(name)

    for name in MODULES:
        visit(name, [])


def test_nothing_in_loopnet_imports_the_compiled_namespace():
    """kernels.compiled starts Numba's thread pool at import: only users import it.

    ``import loopnet`` must leave a process free to fork before it computes
    (loopnet._jit.start_threads).
    """
    importers = [
        n for n, targets in GRAPH.items() if "loopnet.kernels.compiled" in targets
    ]
    assert importers == []


def test_a_planted_upward_import_is_caught():
    """The checks above see an import that runs back up (kernels -> network)."""
    row = _row("loopnet.kernels.forward")
    assert not any(_matches(p, "loopnet.network") for p in TABLE[row])
    GRAPH["loopnet.kernels.forward"].add("loopnet.network")
    try:
        with pytest.raises(AssertionError, match="does not allow"):
            test_imports_are_those_the_table_allows("loopnet.kernels.forward")
        with pytest.raises(AssertionError, match="import circle"):
            test_no_import_circle()
    finally:
        GRAPH["loopnet.kernels.forward"].discard("loopnet.network")


def test_cuda_is_imported_only_when_asked_for():
    """Gradients, training and the command line's compare never load loopnet.cuda."""
    script = (
        "import sys, numpy as np, loopnet as ln\n"
        "net = ln.Network([3, 4, 2], seed=0)\n"
        "X, Y = np.ones((5, 3)), np.zeros((5, 2))\n"
        "for method in ('loop', 'matrix'):\n"
        "    net.gradient(X, Y, method=method)\n"
        "    net.fit(X, Y, epochs=1, method=method, progress=False)\n"
        "ln.compare(net, X, Y, repeat=1)\n"
        "print(sorted(m for m in sys.modules if m.startswith('loopnet.cuda')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout.strip() == "[]"


def _private_names_of_network():
    """Attributes ``Network`` keeps to itself: ``self._x`` and its ``_x`` methods."""
    tree = ast.parse(MODULES["loopnet.network"].read_text(encoding="utf-8"))
    (cls,) = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == "Network"
    ]
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef) and re.match(r"_[^_]", node.name):
            names.add(node.name)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            names.add(node.attr)
    return names


def test_only_network_reads_its_private_attributes():
    private = _private_names_of_network()
    assert {"_params", "_layout"} <= private
    sources = [p for n, p in MODULES.items() if n != "loopnet.network"]
    sources += sorted((ROOT / "benchmarks").glob("*.py"))
    sources += sorted((ROOT / "examples").glob("*.py"))
    readers = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not readers, readers
