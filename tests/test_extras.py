"""Every part of loopnet that needs an extra says what to install when it is missing.

Each case runs in a fresh interpreter whose ``sys.modules`` maps the extra's
package to None, so that importing it fails as it does where it is not installed,
whether or not it is installed here.
"""

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (what needs the extra, the modules hidden, the code that needs them, the extra)
CASES = [
    ("loopnet.sklearn", ["sklearn"], "import loopnet.sklearn", "examples"),
    ("digits()", ["sklearn"], "loopnet.datasets.digits()", "examples"),
    ("drawing", ["matplotlib"], "loopnet.plots.figure_class()", "examples"),
    (
        "loopnet.distributed",
        ["distributed", "dask"],
        "import loopnet.distributed",
        "distributed",
    ),
    (
        "loopnet.cuda needs numba-cuda",
        ["numba_cuda", "numba.cuda"],
        "loopnet.cuda._backend.numba_cuda()",
        "cuda",
    ),
]


def import_error_without(hidden, code):
    """The ImportError message ``code`` raises with ``hidden`` unimportable."""
    script = textwrap.dedent(
        f"""
        import sys
        for name in {hidden!r}:
            sys.modules[name] = None
        import loopnet, loopnet.cuda._backend, loopnet.datasets, loopnet.plots
        try:
            {code}
        except ImportError as error:
            print(error)
        else:
            sys.exit("no ImportError")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@pytest.mark.parametrize(
    "needed_by, hidden, code, extra", CASES, ids=[case[2] for case in CASES]
)
def test_missing_extra_says_what_to_install(needed_by, hidden, code, extra):
    message = import_error_without(hidden, code)
    assert needed_by in message
    assert f'pip install -e ".[{extra}]"' in message
    assert f'pip install "loopnet-backprop[{extra}]"' in message
    # the PyPI package named loopnet is another project's
    assert f'"loopnet[{extra}]"' not in message
