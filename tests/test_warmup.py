"""The first run says it is compiling, and ``loopnet warmup`` compiles ahead of time.

``loopnet._cache.will_compile`` predicts whether a call compiles, from Numba's
own cache index; these tests hold the prediction against what Numba then does
(``dispatcher.stats``), in this process and in fresh ones. The notice
(``backends.loop.compile_notice``) shows on a terminal only: a pseudo-terminal
stands in for one.
"""

import io
import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import loopnet as ln
from loopnet import _cache, cli, kernels, warmup
from loopnet.backends import loop
from loopnet.kernels.backprop import _network_gradient
from tests.helpers import NO_JIT

ROOT = Path(__file__).resolve().parents[1]
needs_jit = pytest.mark.skipif(NO_JIT, reason="about compiled code and its cache")


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _env(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


# --- the notice ------------------------------------------------------------------


@pytest.mark.parametrize(
    "tty, compiles, shown",
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_notice_only_on_a_terminal_and_only_before_compiling(
    monkeypatch, tty, compiles, shown
):
    monkeypatch.setattr(loop, "will_compile_any", lambda entries, dtypes: compiles)
    stream = _Terminal() if tty else io.StringIO()
    assert loop.compile_notice(("fit",), ("float64",), stream) is shown
    assert stream.getvalue() == (loop.COMPILE_NOTICE + "\n" if shown else "")
    assert "compiling loopnet's kernels (first run" in loop.COMPILE_NOTICE


@pytest.mark.parametrize("progress, shown", [(True, True), (False, False)])
def test_fit_gives_the_notice_where_it_shows_its_bar(monkeypatch, progress, shown):
    monkeypatch.setattr(loop, "will_compile_any", lambda entries, dtypes: True)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    net = ln.Network([2, 2], seed=0)
    net.fit(np.eye(2), np.eye(2), progress=progress)
    lines = sys.stderr.getvalue().splitlines()
    assert (loop.COMPILE_NOTICE in lines) is shown
    if shown:  # before the bar, which starts after the compiled loop is ready
        assert lines[0] == loop.COMPILE_NOTICE


def _read_until(fd, text, process, timeout):
    """What ``fd`` gives until ``text`` shows, ``process`` ends, or ``timeout``."""
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            seen += chunk
        elif process.poll() is not None:
            break
    return seen.decode(errors="replace")


def _on_a_terminal(argv, env, until, timeout):
    """Run ``loopnet argv`` with standard error on a pseudo-terminal."""
    parent, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "loopnet", *argv],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env=env,
    )
    os.close(child)
    try:
        return _read_until(parent, until, process, timeout), process
    finally:
        os.close(parent)


@needs_jit
def test_a_cold_cache_says_compiling_before_it_compiles(tmp_path):
    """An empty cache: the notice comes first, at once, not after the compile."""
    env = _env(NUMBA_CACHE_DIR=str(tmp_path))
    seen, process = _on_a_terminal(
        ["compare", "--sizes", "3,2", "--batch", "2"], env, loop.COMPILE_NOTICE, 300
    )
    try:
        assert seen.splitlines()[0].strip() == loop.COMPILE_NOTICE, seen
        # read while the command still runs: it came before the compile, not after
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()


@needs_jit
@pytest.mark.heavy  # compiles in a fresh interpreter
def test_a_warm_cache_is_silent(tmp_path):
    argv = ["compare", "--sizes", "3,2", "--batch", "2", "--repeat", "1"]
    env = _env()
    subprocess.run(  # fills the cache, if this suite has not yet
        [sys.executable, "-m", "loopnet", *argv],
        env=env,
        capture_output=True,
        timeout=600,
        check=True,
    )
    seen, process = _on_a_terminal(argv, env, "never printed", 300)
    assert process.wait(timeout=300) == 0
    assert "compiling" not in seen, seen


# --- the prediction against what Numba does --------------------------------------

PREDICT = """
import numpy as np
import loopnet as ln
from loopnet import _cache
from loopnet.kernels.backprop import _network_gradient as driver
before = _cache.will_compile(driver, np.dtype("float64"))
net = ln.Network([3, 2], seed=0)
net.gradient(np.ones((2, 3)), np.full((2, 2), 0.5))
stats = driver.stats
print(before, bool(stats.cache_misses), bool(stats.cache_hits),
      _cache.will_compile(driver, np.dtype("float64")))
"""


@needs_jit
@pytest.mark.heavy  # compiles in a fresh interpreter
def test_the_prediction_is_what_numba_does(tmp_path):
    def predicted(**extra):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(PREDICT)],
            env=_env(**extra),
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        return done.stdout.split()

    # this process's cache holds the driver once this process has called it
    ln.Network([3, 2], seed=0).gradient(np.ones((2, 3)), np.full((2, 2), 0.5))
    assert not _cache.will_compile(_network_gradient, np.dtype("float64"))
    # a fresh process loads it, as predicted: a hit, no miss
    assert predicted() == ["False", "False", "True", "False"]
    # a fresh process with an empty cache compiles it, as predicted
    cold = {"NUMBA_CACHE_DIR": str(tmp_path)}
    assert predicted(**cold) == ["True", "True", "False", "False"]
    assert predicted(**cold) == ["False", "False", "True", "False"]  # then cached


def test_a_float32_call_does_not_count_for_float64():
    from numba import njit

    @njit
    def double(x):
        return 2 * x

    assert _cache.will_compile(double, np.dtype("float32")) is not NO_JIT
    double(np.ones(2, dtype=np.float32))
    assert not _cache.will_compile(double, np.dtype("float32"))
    assert _cache.will_compile(double, np.dtype("float64")) is not NO_JIT


# --- loopnet warmup ----------------------------------------------------------------


@pytest.mark.parametrize("name", kernels.__all__)
def test_warmup_knows_the_arguments_of_every_kernel(name):
    """A new kernel whose parameters warmup cannot make fails here: add them."""
    arguments = warmup.kernel_arguments(name, "float64")
    assert arguments is not None, f"add kernels.{name}'s parameters to ARGUMENTS"
    getattr(kernels, name)(**arguments)  # they are valid arguments, too


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_warmup_leaves_nothing_to_compile(dtype):
    warmed, skipped = warmup.warmup([dtype])
    assert skipped == []
    names = {item.name for item in warmed}
    assert {
        "Network.fit",
        "Network.gradient",
        "Network.forward",
        "layer_values",
    } <= names
    assert {f"kernels.{name}" for name in kernels.__all__} <= names
    assert all(item.dtype == dtype for item in warmed)
    assert not loop.will_compile_any(tuple(loop.DRIVERS), (dtype,))


@pytest.mark.parametrize(
    "parallel, n_drivers", [("--no-parallel", 4), ("--parallel", 5)]
)
def test_loopnet_warmup_prints_each_entry(capsys, parallel, n_drivers):
    assert cli.main(["warmup", "--dtypes", "float64", parallel]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("warmed ") and "entries in" in lines[-1]
    entries = lines[:-1]
    assert all(entry.startswith("float64  ") for entry in entries)
    # "<dtype>  <name>  <state>  <seconds> s"
    states = [entry.rsplit(None, 2)[0] for entry in entries]
    assert all(state.endswith(warmup.STATES) for state in states), entries
    assert len(entries) == n_drivers + len(kernels.__all__)
    assert ("parallel drivers" in "\n".join(lines)) == (parallel == "--parallel")


@needs_jit
def test_watched_tells_a_compile_from_a_load_from_memory():
    from numba import njit

    @njit
    def double(x):
        return 2 * x

    with warmup._watched() as first:
        double(1.0)
    with warmup._watched() as second:
        double(2.0)
    assert (first["state"], second["state"]) == ("compiled", "in memory")


WARM_AGAIN = """
from loopnet import warmup
warmed, _ = warmup.warmup(["float64"], parallel=False)
print(*sorted({item.state for item in warmed}), sep=",")
"""


@needs_jit
def test_a_second_warmup_loads_from_the_cache():
    """Once warmed, a fresh process loads every entry and compiles none."""
    warmup.warmup(["float64"], parallel=False)
    done = subprocess.run(
        [sys.executable, "-c", WARM_AGAIN],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert done.stdout.splitlines()[-1] in ("cached", "cached,in memory"), done.stdout


def test_compile_parallel_calls_every_driver_with_parallel(monkeypatch):
    """``compile_parallel`` calls every driver with ``parallel=True``."""
    calls = []
    for name in ("_forward_pass", "_network_gradient", "_train_batches"):
        monkeypatch.setattr(
            loop, name, lambda *args, _name=name: calls.append((_name, args[-1]))
        )
    net = ln.Network([3, 4, 2], seed=0)
    params = net.params.copy()
    loop.compile_parallel(net.layout, net.params, np.ones((2, 3)), np.ones((2, 2)))
    assert sorted(calls) == [
        ("_forward_pass", True),
        ("_network_gradient", True),
        ("_train_batches", True),
    ]
    np.testing.assert_array_equal(net.params, params)


def test_warmup_refuses_an_unknown_dtype(capsys):
    assert cli.main(["warmup", "--dtypes", "float16"]) == 2
    assert "--dtypes" in capsys.readouterr().err


def test_python_m_loopnet_warmup_has_help():
    done = subprocess.run(
        [sys.executable, "-m", "loopnet", "warmup", "--help"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "--dtypes" in done.stdout
