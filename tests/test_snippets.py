"""Every ```python block of README.md and docs/*.md runs as written, as a script.

Each block is a whole script: it is written to a file in an empty folder and run
by a fresh interpreter, as a user who pastes it into ``x.py`` runs it, and must
exit with status 0. A block whose first line starts with ``# fragment:`` is an
excerpt that is not meant to run (docs/contributing.md, "Snippets in the docs"):
it must still parse. Blocks that start a Dask cluster run in the heavy lane
(``pytest -m heavy``), the others in the default run; a block that needs an
extra that is not installed is skipped, saying which (``NEEDS``).
"""

import glob
import importlib.util
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import NO_JIT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAGMENT = "# fragment:"
"""The first line of a block that is an excerpt, not a script."""

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

NEEDS = [
    ("sklearn", "sklearn", "scikit-learn", "examples"),
    ("datasets.digits", "sklearn", "scikit-learn", "examples"),
    ("distributed", "distributed", "dask.distributed", "distributed"),
    ("matplotlib", "matplotlib", "matplotlib", "examples"),
    ("plots", "matplotlib", "matplotlib", "examples"),
]
"""(text in a block, the module it needs, its package, the extra that has it)."""


def documents():
    """README.md and every docs/*.md, as paths relative to the root."""
    docs = sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return ["README.md", *(os.path.relpath(path, ROOT) for path in docs)]


def snippets(document):
    """The ```python blocks of ``document``: (its line number, its code)."""
    with open(os.path.join(ROOT, document), encoding="utf-8") as file:
        text = file.read()
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1))
        for match in _BLOCK.finditer(text)
    ]


def missing_extra(code):
    """The skip reason when ``code`` needs a package that is not installed."""
    for text, module, package, extra in NEEDS:
        if text in code and importlib.util.find_spec(module) is None:
            return f'{package} is not installed: pip install -e ".[{extra}]"'
    return None


def cases():
    """One pytest param per block, the Dask ones marked heavy."""
    params = []
    for document in documents():
        for line, code in snippets(document):
            marks = [pytest.mark.heavy] if "LocalCluster" in code else []
            params.append(pytest.param(code, id=f"{document}:{line}", marks=marks))
    return params


def test_the_documents_have_snippets():
    assert len(snippets("README.md")) >= 5


@pytest.mark.skipif(
    NO_JIT, reason="a snippet runs in its own interpreter, compiled; coverage skips it"
)
@pytest.mark.parametrize("code", cases())
def test_snippet_runs_as_a_script(code, tmp_path):
    if code.startswith(FRAGMENT):
        compile(code, "<fragment>", "exec")
        return
    reason = missing_extra(code)
    if reason is not None:
        pytest.skip(reason)
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
