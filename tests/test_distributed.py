"""loopnet.distributed on a LocalCluster of 2 worker processes this module starts.

Sync mode against ``Network.fit`` and against itself, bit for bit; local SGD on
one shard against ``fit`` bit for bit;
``dask.array`` inputs; bad input; divergence; a worker killed mid-training.
Skipped when dask.distributed is not installed.
"""

import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip(
    "distributed", reason='dask.distributed is not installed: pip install -e ".[test]"'
)
da = pytest.importorskip("dask.array", reason="dask.array is not installed")

import dask  # noqa: E402
from distributed import Client, LocalCluster, get_task_stream  # noqa: E402

import loopnet as ln  # noqa: E402
from loopnet import distributed  # noqa: E402
from loopnet.distributed import worker  # noqa: E402
from loopnet.distributed.shards import Shards  # noqa: E402
from loopnet.kernels._tiles import TILE  # noqa: E402
from loopnet.kernels.backprop import Workspace, _forward_pass  # noqa: E402
from loopnet.kernels.update import SGD, OptimizerState, Step  # noqa: E402
from tests.helpers import needs_sklearn  # noqa: E402

SIZES = [5, 4, 3]
SETTINGS = {"epochs": 2, "batch_size": 7, "lr": 0.5, "l2": 0.1, "seed": 1}


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20261202)
    X = rng.random((43, SIZES[0]))
    return X, np.eye(SIZES[-1])[np.argmax(X[:, : SIZES[-1]], axis=1)]  # learnable


def network():
    return ln.Network(SIZES, "tanh", "softmax", "log_likelihood", seed=0)


def train(client, data, **options):
    net = network()
    history = distributed.fit(
        net, *data, client, progress=False, **{**SETTINGS, **options}
    )
    return net, history


def test_import_loopnet_does_not_import_dask():
    code = (
        "import sys, loopnet; print(sorted({'dask', 'distributed'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


OPTIMIZERS = [("sgd", 0.0), ("sgd", 0.9), ("nesterov", 0.9), ("adam", 0.0)]


def sync_and_fit(client, sizes, X, Y, settings, X_sync=None):
    """The parameters and histories of sync mode and of ``fit``, from one start.

    Sync mode trains on ``X_sync`` (a ``dask.array`` of ``X``, say) if given.
    """

    def fresh():
        return ln.Network(sizes, "tanh", "softmax", "log_likelihood", True, X.dtype, 0)

    net, alone = fresh(), fresh()
    X_sync = X if X_sync is None else X_sync
    history = distributed.fit(net, X_sync, Y, client, progress=False, **settings)
    expected = alone.fit(X, Y, progress=False, **settings)
    return net, history, alone, expected


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer, momentum", OPTIMIZERS)
def test_sync_is_fit_bit_for_bit(client, data, dtype, optimizer, momentum):
    X, Y = (array.astype(dtype) for array in data)
    settings = {**SETTINGS, "optimizer": optimizer, "momentum": momentum}
    settings["validation"] = (X, Y)
    net, history, alone, expected = sync_and_fit(client, SIZES, X, Y, settings)
    assert np.array_equal(net.params, alone.params)
    assert history.cost == expected.cost
    assert history.val_cost == expected.val_cost
    assert history.val_accuracy == expected.val_accuracy
    assert history.n_shards == 2 and len(history.step_seconds) == 2 * 7
    assert all(t >= 0 for t in history.communication_seconds)


# 30 epochs, where sums in another order had drifted apart by 1.9e-5
# (docs/distributed.md), over 3 shards: a network whose rows j split over both
# second-layer tasks, a hidden error summed in register tiles (33 >=
# MIN_DOT_LENGTH terms) and, at batch 150, the weight gradients' tiled sums (>=
# MIN_TILED_BATCH)
@pytest.mark.heavy
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer, momentum", OPTIMIZERS)
@pytest.mark.parametrize("n_examples, batch_size", [(40, 10), (300, 150)])
def test_sync_is_fit_bit_for_bit_over_30_epochs(
    client, dtype, optimizer, momentum, n_examples, batch_size
):
    rng = np.random.default_rng(7)
    X = rng.random((n_examples, 12)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[np.argmax(X[:, :3], axis=1)]
    chunked = da.from_array(X, chunks=(-(-n_examples // 3), 12))
    lr = 0.01 if optimizer == "adam" else 0.5
    settings = {"epochs": 30, "batch_size": batch_size, "lr": lr, "seed": 0}
    settings.update(l2=0.1, optimizer=optimizer, momentum=momentum)
    net, history, alone, expected = sync_and_fit(
        client, [12, 40, 33, 3], X, Y, settings, chunked
    )
    assert history.n_shards == 3 and history.epochs == 30
    assert np.array_equal(net.params, alone.params)
    assert history.cost == expected.cost


def test_sync_is_the_same_bits_run_to_run(client, data):
    first, _ = train(client, data, momentum=0.9)
    second, _ = train(client, data, momentum=0.9)
    assert np.array_equal(first.params, second.params)


@pytest.mark.parametrize(
    "optimizer, momentum", [("sgd", 0.9), ("nesterov", 0.9), ("adam", 0.0)]
)
def test_local_sgd_on_one_shard_is_fits_compiled_loop(
    client, data, optimizer, momentum
):
    # one chunk: one shard, trained by _train_batches on fit's shuffle, averaged
    # over one copy; sync mode, over two shards, takes the same steps
    X, Y = data
    one_chunk = da.from_array(X, chunks=(X.shape[0], SIZES[0]))
    options = {"optimizer": optimizer, "momentum": momentum, "sync_every": 2}
    local, history = train(client, (one_chunk, Y), mode="local_sgd", **options)
    assert history.n_shards == 1 and len(history.step_seconds) == 2 * 4
    sync, _ = train(client, data, optimizer=optimizer, momentum=momentum)
    assert np.array_equal(sync.params, local.params)


def test_the_two_tasks_give_the_summed_gradient_of_the_batch(data):
    # the workers' tasks, run here on two shards, give Network.gradient's bits
    X, Y = data
    net = ln.Network([5, 9, 3], "tanh", "softmax", "log_likelihood", seed=0)
    layout, batch = net.layout, np.array([7, 30, 0, 41, 2, 25])
    shards, starts = ((X[:20], Y[:20]), (X[20:], Y[20:])), np.array([0, 20, 43])
    split = Shards(None, [None, None], starts, None).split(batch)
    errors = [
        worker.shard_errors(shards[s], net.params, rows, layout) for s, rows, _ in split
    ]
    places = [places for _, _, places in split]
    pieces = [(0, 0, TILE), (0, TILE, 9), (1, 0, 3)]
    blocks, outputs, _ = worker.gradient_rows(errors, places, layout, pieces, True)
    expected = net.gradient(X[batch], Y[batch], reduction="sum")
    rows = [expected.weights[0][:TILE], expected.weights[0][TILE:], expected.weights[1]]
    biases = [expected.biases[0][:TILE], expected.biases[0][TILE:], expected.biases[1]]
    for (dW, dbias), W_rows, bias_rows in zip(blocks, rows, biases, strict=True):
        assert np.array_equal(dW, W_rows) and np.array_equal(dbias, bias_rows)
    work = Workspace.allocate(layout, batch.size, np.float64)
    _forward_pass(layout, net.params, X[batch], work.Z, work.A)
    n_out = batch.size * 3  # the output layer's block is last
    expected = (work.Z[-n_out:], work.A[-n_out:], Y[batch].reshape(-1))
    for array, expected_array in zip(outputs, expected, strict=True):
        assert np.array_equal(array.reshape(-1), expected_array)


def test_local_round_is_an_epoch_of_fit(data):
    # the worker's task, run here, on fit's shuffle: fit's compiled loop
    X, Y = data
    net, alone = network(), network()
    order = np.random.default_rng(3).permutation(X.shape[0])
    step = Step.of(SGD, np.float64, 0.5, 0.1 / X.shape[0], 0.9)
    state = OptimizerState.zeros(SGD, net.n_params, np.float64)
    params, _, _, _ = worker.local_round(
        (X, Y), net.params, state, order, 7, net.layout, step
    )
    alone.fit(X, Y, batch_size=7, lr=0.5, l2=0.1, momentum=0.9, seed=3, progress=False)
    assert np.array_equal(params, alone.params)
    assert np.array_equal(net.params, network().params)  # its inputs are left alone


def test_prepare_shard_names_the_rows(data):
    X, Y = data
    layout = network().layout
    with pytest.raises(ValueError, match="rows 10 to 52"):
        worker.prepare_shard(X, Y * 2, layout, np.float64, 10)
    assert worker.warm(["float64"])["seconds"] >= 0


def test_dask_array_chunks_are_the_shards(client, data):
    X, Y = data
    chunked = da.from_array(X, chunks=(15, 2)), da.from_array(Y, chunks=(10, 3))
    net, history = train(client, chunked)
    alone = network()
    alone.fit(*data, progress=False, **SETTINGS)
    assert history.n_shards == 3
    assert np.array_equal(net.params, alone.params)


def test_local_sgd_two_shards_trains(client, data):
    net, history = train(client, data, mode="local_sgd", sync_every=1, epochs=5)
    assert history.n_shards == 2 and len(history.step_seconds) == 5 * 4  # 22 rows
    assert history.cost[-1] < history.cost[0]
    assert np.isfinite(net.params).all()


def test_bad_arguments_raise_before_any_change(client, data):
    X, Y = data
    net = network()
    before = net.params.copy()
    with pytest.raises(TypeError, match="client"):
        distributed.fit(net, X, Y, "tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="mode"):
        distributed.fit(net, X, Y, client, mode="async")
    with pytest.raises(ValueError, match="optimizer"):
        distributed.fit(net, X, Y, client, optimizer="rmsprop")
    with pytest.raises(ValueError, match="sync_every"):
        distributed.fit(net, X, Y, client, mode="local_sgd", sync_every=0)
    with pytest.raises(ValueError, match="X"):
        distributed.fit(net, X[:, :3], Y, client)
    with pytest.raises(ValueError, match="lr"):
        distributed.fit(net, X.tolist(), Y.tolist(), client, lr=-1.0)
    bad = X.copy()
    bad[30, 1] = np.nan
    with pytest.raises(ValueError, match="rows 30 to 42"):
        distributed.fit(net, da.from_array(bad, chunks=(30, 5)), Y, client)
    assert np.array_equal(net.params, before)


def test_divergence_keeps_the_last_finite_step(client, data):
    net = ln.Network([5, 1], activation="identity", output="identity", seed=0)
    X = np.full((8, 5), 1e3)
    with pytest.raises(ln.DivergenceError) as caught:
        distributed.fit(
            net, X, np.zeros((8, 1)), client, epochs=20, lr=1e6, progress=False
        )
    assert np.isfinite(net.params).all()
    assert caught.value.epoch >= 1


class Stop(Exception):
    pass


def stop_at(epoch, step, then=None):
    def callback(e, s):
        if (e, s) == (epoch, step):
            if then is not None:
                then()
            raise Stop

    return callback


def test_callback_stops_after_a_completed_step(client, data):
    stopped = []
    for _ in range(2):
        net = network()
        with pytest.raises(Stop):
            distributed.fit(
                net, *data, client, progress=False, callback=stop_at(2, 3), **SETTINGS
            )
        stopped.append(net.params.copy())
    assert np.array_equal(stopped[0], stopped[1])
    assert not np.array_equal(stopped[0], network().params)


def test_workers_are_configured(client):
    reports = distributed.configure(client)
    assert len(reports) == 2
    for report in reports.values():
        assert report["numba_threads"] == 1 and report["cpu"]
    # tasks travel as references to this module, never as compiled code
    assert b"loopnet.distributed.worker" in pickle.dumps(worker.shard_errors)
    assert len(pickle.dumps(worker.local_round)) < 200


def test_shards_find_every_worker_while_the_client_refreshes_its_cache(client, data):
    # Client.scheduler_info() could return the periodic refresh's cache, which has
    # no workers (a CI failure: "integer modulo by zero"); refreshed every 1 ms
    # here, that cache was what 1 call in 3 returned
    with (
        dask.config.set({"distributed.client.scheduler-info-interval": "1ms"}),
        Client(client.scheduler.address) as busy,
    ):
        for _ in range(30):
            shards = Shards.place(busy, network(), *data)
            assert len(shards) == 2
            shards.release()


@pytest.mark.heavy
@needs_sklearn
def test_local_sgd_reaches_fits_digits_accuracy(client):
    # [64, 30, 10] on the 8x8 digits, 10 epochs: fit reaches about 0.95 test
    # accuracy; local SGD over 2 shards, averaging every 20 mini-batches, stays
    # within 0.03 of it
    split = ln.datasets.digits(seed=0)
    settings = {"epochs": 10, "batch_size": 10, "lr": 0.5, "seed": 0}

    def digits_network():
        return ln.Network([64, 30, 10], output="softmax", cost="log_likelihood", seed=0)

    alone = digits_network()
    alone.fit(split.X_train, split.Y_train, progress=False, **settings)
    net = digits_network()
    distributed.fit(
        net,
        split.X_train,
        split.Y_train,
        client,
        mode="local_sgd",
        sync_every=20,
        progress=False,
        **settings,
    )
    expected = alone.score(split.X_test, split.labels_test)
    assert expected > 0.9
    assert net.score(split.X_test, split.labels_test) >= expected - 0.03


@needs_sklearn
def test_grid_search_on_the_cluster_equals_the_serial_search(client):
    """GridSearchCV's fits on the workers (joblib's "dask" backend), same scores."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    from loopnet.sklearn import LoopNetClassifier

    rng = np.random.default_rng(5)
    X = rng.random((60, 4))
    labels = (X[:, 0] + X[:, 1] > 1).astype(int)
    model = LoopNetClassifier(hidden=(5,), epochs=5, batch_size=10, random_state=0)
    grid = {"lr": [0.003, 0.03], "optimizer": ["adam", "nesterov"]}
    serial = GridSearchCV(model, grid, cv=2).fit(X, labels)
    distributed.configure(client)
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(model, grid, cv=2, n_jobs=-1).fit(X, labels)
    assert stream.data, "no fit ran as a Dask task"
    for key in ("split0_test_score", "split1_test_score"):
        assert np.array_equal(on_cluster.cv_results_[key], serial.cv_results_[key])
    assert on_cluster.best_params_ == serial.best_params_


# Last: the cluster's workers are killed (and restarted by their nannies).


def kill_workers(client, which="all"):
    """SIGKILL one worker or all: with all, their scattered shards are lost.

    (Dask may have copied a shard to the other worker, for a task it moved
    there, so killing one does not always lose one.) Nannies start new ones.
    """
    pids = sorted(client.run(os.getpid).values())
    for pid in pids[-1:] if which == "one" else pids:
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def restarted(client):
    """After the test, wait for the nanny's new worker and the old one's removal."""
    yield
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            pids = client.run(os.getpid)
        except OSError:  # a worker that is gone, not yet removed
            continue
        if len(pids) == len(client.nthreads()) == 2 and all(map(_alive, pids.values())):
            return
    raise AssertionError(f"the cluster did not get 2 live workers back: {pids}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# killing both waits for their nannies' restarts (about 10 s): heavy
@pytest.mark.parametrize("which", ["one", pytest.param("all", marks=pytest.mark.heavy)])
def test_killed_workers_are_survived_exactly(client, data, restarted, which):
    expected, _ = train(client, data, momentum=0.9)

    def kill(epoch, step):
        if (epoch, step) == (1, 3):
            kill_workers(client, which)

    net, _ = train(client, data, momentum=0.9, callback=kill)
    assert np.array_equal(net.params, expected.params)


# The module's last test: its workers are not waited for (after a second kill of
# both workers within seconds, the LocalCluster was seen closing a nanny).
def test_worker_lost_beyond_retries_keeps_the_last_step(client, data):
    reached = network()
    with pytest.raises(Stop):
        distributed.fit(
            reached, *data, client, progress=False, callback=stop_at(1, 4), **SETTINGS
        )

    def kill(epoch, step):
        if (epoch, step) == (1, 4):
            kill_workers(client)

    net = network()
    with pytest.raises(distributed.WorkerLostError, match="last completed step"):
        distributed.fit(
            net, *data, client, progress=False, retries=0, callback=kill, **SETTINGS
        )
    assert np.array_equal(net.params, reached.params)
