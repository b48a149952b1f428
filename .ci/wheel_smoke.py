"""CI: loopnet installed from its wheel, run from outside the repository.

A smoke of each extra, on the fewest kernel compiles (the wheel's venv starts
with an empty cache): ``loopnet compare`` has compiled the gradient before this
runs, the digits' training compiles ``fit``'s loop once, the Dask workers'
drivers compile once before the cluster starts, and the estimator and the
workers load them from the wheel's own cache.

    python wheel_smoke.py                         # examples, sklearn, distributed
    NUMBA_ENABLE_CUDASIM=1 python wheel_smoke.py cuda    # on Numba's simulator

A file the code needs at run time that the wheel lacks fails here.
"""

import os
import sys
import tempfile

import numpy as np

import loopnet as ln


def installed_from_the_wheel():
    """The imported loopnet is the venv's, not a checkout's."""
    if "site-packages" not in ln.__file__:
        sys.exit(f"loopnet was imported from {ln.__file__}, not the wheel")
    print("loopnet", ln.__version__, "from", os.path.dirname(ln.__file__))


def examples():
    """The digits, one epoch of training, and a diagram (the examples extra)."""
    from loopnet import plots

    data = ln.datasets.digits()
    net = ln.Network([64, 30, 10], seed=0)
    net.fit(data.X_train, data.Y_train, epochs=1, lr=3.0, seed=0, progress=False)
    accuracy = net.score(data.X_test, data.labels_test)
    assert accuracy > 0.5, accuracy
    with tempfile.TemporaryDirectory() as folder:
        plots.network_figure(ln.Network([2, 3, 1], seed=0)).savefig(
            os.path.join(folder, "net.png")
        )
    print(f"examples: digits {data.X_train.shape}, one epoch, accuracy {accuracy:.3f}")
    return data


def estimator(data):
    """LoopNetClassifier on the digits (scikit-learn, the examples extra)."""
    from loopnet.sklearn import LoopNetClassifier

    # fit's settings above, so that the estimator runs the loop compiled there
    model = LoopNetClassifier(
        hidden=(30,),
        activation="sigmoid",
        optimizer="sgd",
        lr=3.0,
        batch_size=10,
        epochs=2,
        l2=0.0,
        momentum=0.0,
        random_state=0,
    )
    accuracy = model.fit(data.X_train, data.labels_train).score(
        data.X_test, data.labels_test
    )
    assert accuracy > 0.5, accuracy
    print(f"sklearn: LoopNetClassifier, accuracy {accuracy:.3f}")


def on_dask(data):
    """Sync-mode fit against Network.fit, on 2 workers (the distributed extra)."""
    from distributed import Client, LocalCluster

    from loopnet import distributed
    from loopnet.distributed import worker

    # the workers' drivers compiled once here, not twice side by side: the
    # workers then load them from the wheel's cache
    worker.warm(["float64"])
    X, Y = data.X_train[:200], data.Y_train[:200]
    alone, spread = ln.Network([64, 30, 10], seed=0), ln.Network([64, 30, 10], seed=0)
    alone.fit(X, Y, epochs=1, lr=3.0, seed=0, progress=False)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        distributed.fit(spread, X, Y, client, epochs=1, lr=3.0, seed=0, progress=False)
    gap = np.abs(alone.params - spread.params).max()
    assert gap < 1e-10, gap
    print(f"distributed: sync fit on 2 workers, {gap:.1e} from Network.fit")


def on_the_simulator():
    """The CUDA gradient on Numba's simulator against the matrix form (cuda extra)."""
    import loopnet.cuda

    assert loopnet.cuda.is_available(), "numba-cuda's simulator is not available"
    net = ln.Network([3, 4, 2], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.random((5, 3)), rng.random((5, 2))
    on_gpu, matrix = (net.gradient(X, Y, method=m) for m in ("cuda", "matrix"))
    gap = np.abs(on_gpu.flat - matrix.flat).max()
    assert gap < 1e-12, gap
    print(f"cuda: gradient on the simulator, {gap:.1e} from the matrix form")


if __name__ == "__main__":
    installed_from_the_wheel()
    if sys.argv[1:] == ["cuda"]:
        on_the_simulator()
    else:
        digits = examples()
        estimator(digits)
        on_dask(digits)
