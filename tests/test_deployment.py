"""loopnet where it is deployed: read-only, shared, interrupted, out of disk.

Read-only installs, caches shared by processes, Ctrl-C, full disks, and memory
over long training runs. Several tests run Python in a subprocess, with loopnet
importable from this checkout (or from a copy of it) through PYTHONPATH. Tests
that change file permissions also work as root, which ignores them: where Numba
or Python want a folder (``__pycache__``, the cache folders) a regular *file* of
that name makes creating the folder fail with ENOTDIR or EEXIST for every user.
"""

import errno
import gc
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import warnings
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet as ln
from loopnet import _cache, _cache_stamp
from loopnet.backends import loop
from tests.helpers import NO_JIT

ROOT = Path(__file__).resolve().parents[1]
needs_jit = pytest.mark.skipif(NO_JIT, reason="about compiled code and its cache")


def python(script, env=None, timeout=300, **kwargs):
    """Run ``script`` in a fresh interpreter; loopnet from this checkout by default."""
    env = dict(os.environ, PYTHONPATH=str(ROOT)) if env is None else env
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


# --- a read-only install -----------------------------------------------------------

IMPORT_AND_COMPILE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numba, numpy as np
    import loopnet as ln
    from loopnet.kernels.gradients import _bias_gradient
    dbias = ln.kernels.bias_gradient(np.array([[1.0, 2.0], [3.0, 4.0]]))
print(json.dumps({
    "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
    "dbias": dbias.tolist(),
    "cache_dir": numba.config.CACHE_DIR,
    "hits": sum(_bias_gradient.stats.cache_hits.values()),
}))
"""


@pytest.fixture
def read_only_install(tmp_path):
    """A copy of loopnet where neither the package nor the user cache is writable.

    Returns the environment for a subprocess: PYTHONPATH on the copy, HOME and
    XDG_CACHE_HOME below a regular file, no NUMBA_CACHE_DIR, and TMPDIR on an
    empty writable folder (the fallback's place). Run it in another folder than
    the checkout (``run_json``), or ``python -c`` imports the checkout's loopnet.
    """
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "loopnet",
        site / "loopnet",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for folder in (site / "loopnet", site / "loopnet" / "kernels"):
        (folder / "__pycache__").write_text("not a folder")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, so that nothing can be created below it")
    (tmp_path / "tmp").mkdir()
    for path in [site, *site.rglob("*")]:  # read-only too, for a user other than root
        path.chmod(path.stat().st_mode & ~0o222)
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env |= {
        "PYTHONPATH": str(site),
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "cache"),
        "TMPDIR": str(tmp_path / "tmp"),
    }
    yield env
    for path in [site, *site.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def run_json(script, env):
    """Run ``script`` in TMPDIR, away from the checkout; return its JSON output."""
    result = python(script, env, cwd=env["TMPDIR"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@needs_jit
def test_read_only_install_caches_in_a_private_temporary_folder(read_only_install):
    first = run_json(IMPORT_AND_COMPILE, read_only_install)
    assert first["dbias"] == [4.0, 6.0]
    assert len(first["warnings"]) == 1, first["warnings"]
    assert first["warnings"][0].startswith("NumbaCacheWarning")
    assert first["cache_dir"].startswith(read_only_install["TMPDIR"])
    assert "NUMBA_CACHE_DIR" in first["warnings"][0]
    folder = Path(first["cache_dir"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert list(folder.rglob("*.nbi")), "nothing was cached"
    second = run_json(IMPORT_AND_COMPILE, read_only_install)  # a later process
    assert len(second["warnings"]) == 1 and second["cache_dir"] == first["cache_dir"]
    assert second["hits"] >= 1, "the second process compiled again"


@needs_jit
def test_read_only_install_without_any_writable_folder_runs_uncached(
    read_only_install, tmp_path
):
    """No temporary folder either: kernels compile in every process, one warning."""
    no_tmp = f"""
    import tempfile
    tempfile.gettempdir = lambda: {str(tmp_path / "blocker" / "tmp")!r}
    tempfile.mkdtemp = lambda *args, **kwargs: {str(tmp_path / "blocker" / "x")!r}
    """
    before = sorted(tmp_path.rglob("*"))
    result = run_json(textwrap.dedent(no_tmp) + IMPORT_AND_COMPILE, read_only_install)
    assert result["dbias"] == [4.0, 6.0] and result["hits"] == 0
    assert len(result["warnings"]) == 1, result["warnings"]
    assert "caching is off" in result["warnings"][0]
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_cache_is_left_alone_where_numba_can_write(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "DISABLE_JIT", False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    assert _cache.numba_can_cache([str(tmp_path)], None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _cache.configure([str(tmp_path)]) is True
    assert numba.config.CACHE_DIR == ""


def test_cache_falls_back_where_no_folder_is_writable(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(numba.config, "DISABLE_JIT", False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(_cache, "user_wide_folder", lambda: str(blocker / "user"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    folders = [str(blocker / "package")]
    assert not _cache.numba_can_cache(folders, _cache.user_wide_folder())
    with pytest.warns(_cache.NumbaCacheWarning, match="caching them in") as caught:
        assert _cache.configure(folders) is True
    assert len(caught) == 1
    assert Path(numba.config.CACHE_DIR).parent == tmp_path / "tmp"
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kwargs: str(blocker / "x"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    with pytest.warns(_cache.NumbaCacheWarning, match="caching is off"):
        assert _cache.configure(folders) is False


@pytest.mark.parametrize("problem", ["open to others", "a link", "someone else's"])
def test_fallback_folder_must_be_private(tmp_path, monkeypatch, problem):
    """A cache holds pickles: a folder others can write (or swap) is not used."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    owner = os.getuid()
    shared = tmp_path / f"loopnet-numba-cache-{owner}"
    if problem == "open to others":
        shared.mkdir()
        shared.chmod(0o777)
    elif problem == "a link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        shared.symlink_to(tmp_path / "elsewhere")
    else:
        if owner != 0:
            pytest.skip("only root can give a folder to another user")
        shared.mkdir(mode=0o700)
        os.chown(shared, 12345, 12345)
    folder = Path(_cache.private_folder())
    assert folder != shared and folder.parent == tmp_path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --- two processes, one cache -----------------------------------------------------

TRAIN_TOGETHER = """
import hashlib, json, os, sys, time
import numpy as np
import loopnet as ln
from loopnet.kernels.training import _train_batches
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):  # start compiling together
    time.sleep(0.005)
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((40, 6)).astype("float32"), rng.random((40, 2))
net = ln.Network([6, 5, 2], "tanh", "sigmoid", "cross_entropy", dtype="float32", seed=0)
net.fit(X, Y, epochs=3, batch_size=4, lr=0.5, seed=0)
print(json.dumps({
    "digest": hashlib.sha256(net.params.tobytes()).hexdigest(),
    "hits": sum(_train_batches.stats.cache_hits.values()),
    "misses": sum(_train_batches.stats.cache_misses.values()),
}))
"""


def fit_digest():
    import hashlib

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 6)).astype("float32"), rng.random((40, 2))
    net = ln.Network(
        [6, 5, 2], "tanh", "sigmoid", "cross_entropy", dtype="float32", seed=0
    )
    net.fit(X, Y, epochs=3, batch_size=4, lr=0.5, seed=0)
    return hashlib.sha256(net.params.tobytes()).hexdigest()


@needs_jit
@pytest.mark.heavy  # compiles in fresh caches: minutes
def test_two_processes_compile_into_one_fresh_cache_at_once(tmp_path):
    """Two processes compile into one empty cache at once; both train right.

    A third process then loads the training loop instead of compiling it.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "c"))
    go = tmp_path / "go"
    command = [sys.executable, "-c", TRAIN_TOGETHER, str(go)]
    children = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [child.communicate(timeout=600)[0] for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    assert [child.returncode for child in children] == [0, 0]
    results = [json.loads(output) for output in outputs]
    expected = fit_digest()
    assert all(result["digest"] == expected for result in results)
    third = python(TRAIN_TOGETHER.replace("sys.argv[1]", "'.'"), env)
    assert third.returncode == 0, third.stderr
    result = json.loads(third.stdout.splitlines()[-1])
    assert result["digest"] == expected
    assert result["hits"] >= 1 and result["misses"] == 0


FIT_THEN_GRADIENT = """
import sys
import numpy as np
import loopnet as ln
net = ln.Network([784, 30, 10], seed=0)
X = np.random.default_rng(1).random((20, 784))
Y = np.eye(10)[np.arange(20) % 10]
if sys.argv[1] == "fit":
    net.fit(X, Y, batch_size=10, progress=False)
else:
    net.gradient(X[:10], Y[:10])
print("done")
"""


@needs_jit
@pytest.mark.heavy
def test_gradient_loads_from_a_cache_that_fit_filled_first(tmp_path):
    """fit, then a gradient, then a gradient again, each in a fresh process.

    The second process compiles ``_network_gradient`` around layer kernels that
    ``fit`` left in the cache; the third loads it. Numba forgets, for a cached
    caller of cached parallel kernels, that it needs the thread pool
    (numba#8578): before loopnet started the pool itself, the third process
    crashed with a segmentation fault.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "c"))
    for step in ("fit", "gradient", "gradient"):
        done = subprocess.run(
            [sys.executable, "-c", FIT_THEN_GRADIENT, step],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (step, done.returncode, done.stderr[-2000:])
        assert done.stdout.strip() == "done"


# --- Ctrl-C --------------------------------------------------------------------------


def _problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    net = ln.Network([4, 6, 3], "tanh", "softmax", "log_likelihood", seed=seed)
    X = rng.standard_normal((n, 4))
    Y = np.eye(3)[rng.integers(0, 3, n)]
    return net, X, Y


def _still_usable(net, X, Y, tmp_path):
    """The network computes, trains on, saves and loads like any other."""
    assert np.all(np.isfinite(net.params))
    assert np.all(np.isfinite(net.forward(X)))
    net.save(tmp_path / "after.npz")
    np.testing.assert_array_equal(
        ln.Network.load(tmp_path / "after.npz").params, net.params
    )
    history = net.fit(X, Y, epochs=1, progress=False)
    assert np.isfinite(history.cost[0])


def test_interrupt_while_compiling_changes_nothing(monkeypatch, tmp_path):
    net, X, Y = _problem()
    before = net.params.copy()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_train_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=2)
    monkeypatch.undo()
    np.testing.assert_array_equal(net.params, before)
    _still_usable(net, X, Y, tmp_path)


def test_interrupt_during_validation_keeps_the_epoch(monkeypatch, tmp_path):
    """Ctrl-C while the validation set is evaluated: the epoch's steps stay."""
    net, X, Y = _problem()
    after_epochs = []
    evaluate = loop.evaluate

    def interrupted(*arguments):
        after_epochs.append(net.params.copy())
        if len(after_epochs) == 2:
            raise KeyboardInterrupt
        return evaluate(*arguments)

    monkeypatch.setattr(loop, "evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=5, batch_size=8, validation=(X, Y))
    monkeypatch.undo()
    np.testing.assert_array_equal(net.params, after_epochs[-1])
    assert not np.array_equal(after_epochs[0], after_epochs[1])
    _still_usable(net, X, Y, tmp_path)


SIGINT_DURING_FIT = """
import faulthandler, signal
faulthandler.dump_traceback_later(100, exit=True)  # a hang shows where, and ends
# Ctrl-C raises KeyboardInterrupt, as at a terminal: a child of a shell's
# background job (as in CI's lanes) starts with SIGINT ignored, and Python then
# keeps it ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np, loopnet as ln
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((2000, 60)), rng.random((2000, 10))
net = ln.Network([60, 60, 10], seed=0)
initial = net.params.copy()
def stepping(row):  # after the first epoch: compiled (or loaded) and stepping
    if row["epoch"] == 1:
        print("training", flush=True)
try:
    net.fit(X, Y, epochs=10**6, batch_size=10, lr=0.5, seed=0, callback=stepping)
except KeyboardInterrupt:
    assert np.all(np.isfinite(net.params)) and not np.array_equal(net.params, initial)
    assert np.all(np.isfinite(net.forward(X[:5])))
    net.fit(X, Y, epochs=1, lr=0.5)
    print("interrupted, still usable")
"""


@needs_jit
def test_a_real_ctrl_c_stops_fit_between_steps():
    """A real SIGINT stops fit cleanly; it re-raises, and the network trains on.

    Python handles the signal only between compiled calls, so between steps.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", SIGINT_DURING_FIT],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # a signal before the first step would stop fit while it compiles
        assert child.stdout.readline().strip() == "training"
        time.sleep(0.2)  # well into the epochs
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err
    assert "interrupted, still usable" in out


# --- a full disk ------------------------------------------------------------------


class FillingFile:
    """A file whose disk fills after ``room`` bytes: writes then fail (ENOSPC)."""

    def __init__(self, file, room):
        self._file, self._room = file, room

    def write(self, data):
        if len(data) > self._room:
            self._file.write(bytes(data)[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.mark.parametrize("room", [0, 1, 200, 2000])
def test_disk_full_mid_write_keeps_the_old_file(tmp_path, monkeypatch, room):
    path = tmp_path / "model.npz"
    old = ln.Network([3, 30, 2], seed=0)
    old.save(path)
    before = path.read_bytes()
    fdopen = os.fdopen
    monkeypatch.setattr(
        os, "fdopen", lambda *a, **k: FillingFile(fdopen(*a, **k), room)
    )
    with pytest.raises(OSError) as raised:
        ln.Network([3, 30, 2], seed=1).save(path)
    monkeypatch.undo()
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(ln.Network.load(path).params, old.params)


@pytest.mark.parametrize("failing", ["fsync", "chmod"])
def test_failed_flush_to_disk_keeps_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "model.npz"
    ln.Network([2, 1], seed=0).save(path)
    before = path.read_bytes()

    def fails(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fails)
    with pytest.raises(OSError, match="No space left"):
        ln.Network([2, 1], seed=1).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


SAVE_OVER_A_LIMIT = """
import resource, signal, sys, numpy as np, loopnet as ln
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    ln.Network([100, 100, 10], seed=1).save(sys.argv[1])
except OSError as error:
    print(error.errno)
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="no file size limit")
def test_save_over_a_real_file_size_limit_keeps_the_old_file(tmp_path):
    """The kernel itself refuses the write (EFBIG), as for root too; no mock."""
    path = tmp_path / "model.npz"
    ln.Network([2, 3, 1], seed=0).save(path)
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-c", SAVE_OVER_A_LIMIT, str(path)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(errno.EFBIG)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


# --- memory over many epochs ---------------------------------------------------------


def test_python_memory_stays_flat_across_fits():
    """Repeated fits (with validation) leave no Python objects behind."""
    net, X, Y = _problem(n=32)
    epochs, repeats = (2, 5) if NO_JIT else (5, 60)
    # Traced memory grows for the first few hundred fits, then stops (measured:
    # about 110 KB after 500 fits of this problem, 0.2 KB more over the next
    # 1500): caches filling in Numba's dispatcher, not a leak; NRT's counts of
    # allocations and frees stay equal throughout (the test above).
    warm_up = 3 if NO_JIT else 500
    tracemalloc.start()
    try:
        for _ in range(warm_up):  # caches, first-use allocations
            net.fit(X, Y, epochs=epochs, batch_size=4, validation=(X, Y))
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(repeats):
            net.fit(X, Y, epochs=epochs, batch_size=4, validation=(X, Y))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 64 * 1024, after - before


MANY_EPOCHS = """
import json, os, numpy as np, loopnet as ln
from numba.core.runtime import rtsys

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

rng = np.random.default_rng(0)
X, Y = rng.standard_normal((500, 10)), rng.random((500, 3))
net = ln.Network([10, 8, 3], seed=0)
net.fit(X, Y, epochs=5, batch_size=1, validation=(X, Y))  # compile, first allocations
stats, memory = rtsys.get_allocation_stats(), rss()
for _ in range(20):  # 200,000 mini-batches
    net.fit(X, Y, epochs=20, batch_size=1, lr=0.01, validation=(X, Y))
after = rtsys.get_allocation_stats()
print(json.dumps({
    "allocated": after.alloc - stats.alloc,
    "freed": after.free - stats.free,
    "meminfos": after.mi_alloc - stats.mi_alloc,
    "meminfos_freed": after.mi_free - stats.mi_free,
    "rss_growth": rss() - memory,
}))
"""


@needs_jit
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="Linux /proc only")
def test_compiled_memory_stays_flat_over_many_epochs():
    """Compiled code frees all it allocates; resident memory stays flat.

    Over 200,000 mini-batches, counted by Numba's runtime (NUMBA_NRT_STATS=1)
    and by the resident size of the process.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NRT_STATS="1")
    result = python(MANY_EPOCHS, env)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["allocated"] > 0  # the stats are on
    assert counts["allocated"] == counts["freed"], counts
    assert counts["meminfos"] == counts["meminfos_freed"], counts
    assert counts["rss_growth"] < 8 * 2**20, counts


FIT_RUNS_THE_COMPILED_LOOP = """
import json, numpy as np, loopnet as ln
from loopnet.kernels.training import _train_batches
before = len(_train_batches.nopython_signatures)
rng = np.random.default_rng(0)
X, Y = rng.standard_normal((50, 10)), rng.random((50, 3))
ln.Network([10, 8, 3], seed=0).fit(X, Y, epochs=2, batch_size=1, validation=(X, Y))
print(json.dumps({
    "before": before,
    "signatures": [str(s) for s in _train_batches.nopython_signatures],
    "loads": sum(_train_batches.stats.cache_hits.values()),
    "compiles": sum(_train_batches.stats.cache_misses.values()),
}))
"""


@needs_jit
def test_fit_runs_the_compiled_train_batches():
    """The memory test above measures the loop fit really runs: ``_train_batches``.

    In a fresh process no signature of it exists until ``fit`` compiles it or
    loads it from the cache, once, for float64 parameters.
    """
    result = python(FIT_RUNS_THE_COMPILED_LOOP)
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout)
    assert counts["before"] == 0
    assert len(counts["signatures"]) == 1 and "float64" in counts["signatures"][0]
    assert counts["loads"] + counts["compiles"] == 1, counts


# --- a callee's file changes -------------------------------------------------------

CALL_WEIGHT_GRADIENT = """
import json
import numpy as np
import loopnet as ln
from loopnet.kernels.gradients import _weight_gradient
dW = ln.kernels.weight_gradient(np.ones((2, 3)), np.ones((2, 4)))
print(json.dumps({
    "dW": dW.tolist(),
    "hits": sum(_weight_gradient.stats.cache_hits.values()),
    "misses": sum(_weight_gradient.stats.cache_misses.values()),
}))
"""


@needs_jit
@pytest.mark.heavy  # compiles in fresh caches: minutes
def test_cached_caller_compiles_again_when_a_callee_file_changes(tmp_path):
    """``_weight_gradient`` (gradients.py) calls ``_dot_rows`` (_tiles.py).

    Numba alone would load the caller's old machine code after _tiles.py changed
    (numba#4908); ``loopnet._cache_stamp`` makes it compile again. A module
    without compiled code (network.py) changing costs no compile.
    """
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "loopnet",
        site / "loopnet",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "tmp").mkdir()
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        NUMBA_CACHE_DIR=str(tmp_path / "cache"),
        TMPDIR=str(tmp_path / "tmp"),
    )

    def run():
        result = run_json(CALL_WEIGHT_GRADIENT, env)
        assert result["dW"] == [[2.0] * 4] * 3
        return result["hits"], result["misses"]

    assert run() == (0, 1)  # compiled
    assert run() == (1, 0)  # loaded
    with open(site / "loopnet" / "kernels" / "_tiles.py", "a") as file:
        file.write("\n# an edit to the callee's module\n")
    assert run() == (0, 1)  # compiled again, not the old callee loaded
    assert run() == (1, 0)
    with open(site / "loopnet" / "network.py", "a") as file:
        file.write("\n# an edit to a module without compiled code\n")
    assert run() == (1, 0)


def test_stamp_covers_the_compiled_modules_only():
    kernel_folder = ROOT / "loopnet" / "kernels"
    names = {
        os.path.relpath(path, ROOT / "loopnet")
        for path in _cache_stamp.compiled_sources()
    }
    kernels = {f"kernels/{path.name}" for path in kernel_folder.glob("*.py")}
    plain_python = {"kernels/__init__.py", "kernels/arguments.py"}  # compile nothing
    assert kernels - plain_python <= names
    assert {"activations.py", "costs.py"} <= names
    assert not names & {"network.py", "cli.py", "training.py", *plain_python}


def test_stamp_changes_with_any_source(tmp_path):
    paths = [tmp_path / "a.py", tmp_path / "b.py"]
    for path in paths:
        path.write_text("x = 1\n")

    def digest():
        return _cache_stamp.sources_digest({path: path.read_bytes() for path in paths})

    before = digest()
    assert digest() == before
    paths[1].write_text("x = 2\n")
    assert digest() != before


@needs_jit
def test_stamp_locator_is_first_and_only_for_loopnet():
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    assert _cache_stamp.install()  # idempotent: already installed at import
    assert impl._locator_classes.count(_cache_stamp.LoopnetCacheLocator) == 1
    assert impl._locator_classes[0] is _cache_stamp.LoopnetCacheLocator

    def elsewhere():
        return 1

    locator = _cache_stamp.LoopnetCacheLocator
    assert locator.from_function(elsewhere, __file__) is None
    from loopnet.kernels.gradients import _weight_gradient

    source = ln.kernels.gradients.__file__
    mine = locator.from_function(_weight_gradient.py_func, source)
    assert mine is not None
    assert mine.get_source_stamp()[1] == _cache_stamp.LoopnetCacheLocator.digest
    # what Numba reads when it warns that a function cannot be cached
    assert mine._py_file == mine._inner._py_file == source
