"""The ``loopnet`` command line, run in-process through ``main(argv)``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import loopnet as ln
from loopnet import cli
from loopnet.cli import main
from tests.helpers import needs_matplotlib, needs_sklearn

ROOT = Path(__file__).parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000


def test_compare_prints_the_table(capsys):
    status, out, err = run(
        capsys, "compare", "--sizes", "4,3,2", "--batch", "3", "--repeat", "2"
    )
    assert status == 0 and err == ""
    assert out.startswith("network [4, 3, 2], sigmoid/sigmoid, cost quadratic")
    assert "agree: yes" in out and "median of 2" in out


def test_compare_json(capsys):
    status, out, _ = run(
        capsys,
        "compare",
        "--sizes",
        "3,2",
        "--batch",
        "2",
        "--repeat",
        "1",
        "--json",
        "--dtype",
        "float32",
        "--no-bias",
        "--output",
        "softmax",
        "--cost",
        "log_likelihood",
        "--reduction",
        "sum",
        "--l2",
        "0.1",
    )
    report = json.loads(out)
    assert status == 0 and report["agree"] is True
    assert report["sizes"] == [3, 2] and report["dtype"] == "float32"
    assert report["bias"] is False and report["reduction"] == "sum"
    assert report["l2"] == 0.1 and len(report["loop_times"]) == 1


@needs_matplotlib  # --plot
def test_bench_prints_a_table_and_plots(capsys, tmp_path):
    plot = tmp_path / "speed.png"
    status, out, _ = run(
        capsys,
        "bench",
        "--widths",
        "3,5",
        "--batches",
        "1,2",
        "--repeat",
        "1",
        "--depth",
        "1",
        "--plot",
        str(plot),
    )
    assert status == 0
    rows = out.splitlines()
    assert rows[0].split() == ["network", "batch", "loop", "matrix", "loop/matrix"]
    assert [row.split()[:2] for row in rows[2:6]] == [
        ["3-3", "1"],
        ["3-3", "2"],
        ["5-5", "1"],
        ["5-5", "2"],
    ]
    assert rows[-1] == f"wrote {plot}"
    assert_png(plot)


def test_trace_worked_example_by_default(capsys):
    status, out, _ = run(capsys, "trace")
    assert status == 0
    assert out.startswith("Seed 001's worked example")
    assert "z[0, 0] = sum_k W[j, k] x[b, k]" in out and "dJdW1 = X.T @ delta2" in out
    assert run(capsys, "trace", "--example", "worked")[1] == out


def test_trace_random_network(capsys):
    status, out, _ = run(
        capsys,
        "trace",
        "--sizes",
        "3,2,2",
        "--batch",
        "2",
        "--output",
        "softmax",
        "--cost",
        "log_likelihood",
        "--seed",
        "3",
    )
    assert status == 0
    assert out.startswith("network [3, 2, 2]: sigmoid hidden, softmax output")
    assert "delta[1, 1] = a[b, j] * sum_i y[b, i] - y[b, j]" in out


def test_trace_worked_batch(capsys):
    status, out, _ = run(capsys, "trace", "--example", "worked-batch")
    assert status == 0 and "delta[2, 0]" in out


@needs_matplotlib
def test_diagram_worked_example(capsys, tmp_path):
    path = tmp_path / "net.png"
    status, out, _ = run(
        capsys, "diagram", "--sizes", "2,3,1", "--example", "worked", "-o", str(path)
    )
    assert status == 0 and out == f"wrote {path}\n"
    assert_png(path)


@needs_matplotlib
@pytest.mark.parametrize("extra", [[], ["--example", "random", "--no-bias"]])
def test_diagram_any_network(capsys, tmp_path, extra):
    path = tmp_path / "net.png"
    status, _, _ = run(
        capsys,
        "diagram",
        "--sizes",
        "4,5,3",
        "--output",
        "softmax",
        "--cost",
        "log_likelihood",
        "-o",
        str(path),
        *extra,
    )
    assert status == 0
    assert_png(path)


@needs_sklearn
def test_train_digits_prints_accuracy_and_saves(capsys, tmp_path):
    path = tmp_path / "digits.npz"
    status, out, _ = run(
        capsys,
        "train",
        "digits",
        "--epochs",
        "4",
        "--dtype",
        "float32",
        "--save",
        str(path),
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("network [64, 30, 10]") and "float32" in lines[0]
    assert [line.split()[1] for line in lines[1:5]] == ["1", "2", "3", "4"]
    final = float(lines[5].split()[2])
    assert 0.85 < final <= 1.0  # 4 of the 30 default epochs
    assert lines[-1] == f"saved {path}"
    net = ln.Network.load(path)
    assert net.dtype == np.float32 and net.sizes == (64, 30, 10)
    data = ln.datasets.digits(seed=0)
    assert net.score(data.X_test, data.labels_test) == pytest.approx(final, abs=1e-4)


@needs_sklearn
def test_train_prints_each_epoch_as_it_ends(capsys, monkeypatch):
    """Each epoch's line is written inside fit, not after it returns."""
    events = []
    monkeypatch.setattr(cli.tqdm, "write", lambda line: events.append(line))
    fit = ln.Network.fit

    def recorded_fit(self, *args, **kwargs):
        history = fit(self, *args, **kwargs)
        events.append("fit returned")
        return history

    monkeypatch.setattr(ln.Network, "fit", recorded_fit)
    status, out, _ = run(
        capsys,
        *("train", "digits", "--epochs", "3", "--optimizer", "adam", "--lr", "0.01"),
        *("--init", "he_normal", "--activation", "relu", "--early-stopping"),
    )
    assert status == 0
    assert [line.split()[:2] for line in events[:3]] == [
        ["epoch", str(epoch)] for epoch in (1, 2, 3)
    ]
    assert events[3] == "fit returned" and "held-out cost" in events[0]
    lines = out.splitlines()
    assert "adam lr 0.01, init he_normal, early stopping" in lines[0]
    assert lines[1].startswith("ran epoch 3; the held-out cost was lowest in epoch")


@needs_sklearn
def test_train_that_diverges_says_so_and_saves_nothing(capsys, tmp_path):
    path = tmp_path / "digits.npz"
    status, out, err = run(
        capsys,
        *("train", "digits", "--epochs", "2", "--lr", "1e300"),
        *("--activation", "identity", "--output", "identity", "--save", str(path)),
    )
    assert status == 1 and not path.exists() and "saved" not in out
    assert err.startswith("loopnet train: error: training diverged in epoch 1,")
    assert "smaller lr" in err and len(err.splitlines()) == 1


@needs_sklearn  # the data loads before the folder is checked
def test_train_refuses_a_missing_folder_before_training(capsys, tmp_path):
    status, out, err = run(
        capsys, "train", "digits", "--save", str(tmp_path / "missing" / "net.npz")
    )
    assert status == 1 and out == "" and "--save" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "the following arguments are required"),
        (["fit"], "invalid choice: 'fit'"),
        (["compare", "--sizes", "abc"], "argument --sizes: expected comma-separated"),
        (["compare", "--sizes", "784"], "expected at least 2 layer sizes"),
        (["compare", "--sizes", "3,0,2"], "argument --sizes"),
        (["compare", "--batch", "-1"], "argument --batch: expected a positive integer"),
        (["compare", "--repeat", "0"], "argument --repeat"),
        (["compare", "--dtype", "float16"], "argument --dtype: invalid choice"),
        (["compare", "--activation", "softmax"], "argument --activation"),
        (["compare", "--l2", "x"], "argument --l2: invalid float value"),
        (
            ["compare", "--sizes", "3,2", "--l2", "-1"],
            "l2 must be finite and in [0.0, inf)",
        ),
        (
            [
                "compare",
                "--sizes",
                "3,2",
                "--output",
                "tanh",
                "--cost",
                "cross_entropy",
            ],
            "cost='cross_entropy' needs outputs in (0, 1)",
        ),
        (["compare", "--bogus"], "unrecognized arguments: --bogus"),
        (["trace", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
        (["train", "digits", "extra"], "unrecognized arguments: extra"),
        # a dash and a digit: the value, checked by --sizes, not an unknown option
        (
            ["compare", "--sizes", "-5,3,1"],
            "argument --sizes: expected comma-separated positive integers",
        ),
        (["bench", "--batches", "-1,10"], "argument --batches: expected"),
        (["bench", "--widths", "16,,64"], "argument --widths"),
        (["trace", "--sizes", "7,2"], "at most 6 units per layer"),
        (["trace", "--sizes", "2,2", "--batch", "5"], "at most 4 examples"),
        (["trace", "--example", "worked", "--cost", "cross_entropy"], "drop --cost"),
        (["trace", "--example", "worked", "--sizes", "2,4,1"], "does not match"),
        (["diagram"], "the following arguments are required: -o/--out"),
        # matplotlib is asked for before the sizes are checked
        pytest.param(
            ["diagram", "--sizes", "17,2", "-o", "x.png"],
            "at most 16 units",
            marks=needs_matplotlib,
        ),
        (["train"], "the following arguments are required: dataset"),
        (["train", "mnist"], "invalid choice: 'mnist'"),
        (
            ["train", "digits", "--lr", "0"],
            "argument --lr: value must be finite and in (0",
        ),
        (["train", "digits", "--lr", "x"], "argument --lr: expected a number"),
        (["train", "digits", "--momentum", "1"], "argument --momentum: value must"),
        (["train", "digits", "--l2", "-0.5"], "argument --l2: value must"),
        (["train", "digits", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "digits", "--init", "zeros"], "invalid choice: 'zeros'"),
        (["train", "digits", "--epochs", "0"], "argument --epochs"),
        pytest.param(  # the data loads before the pairing is checked
            ["train", "digits", "--output", "tanh", "--cost", "cross_entropy"],
            "needs outputs",
            marks=needs_sklearn,
        ),
    ],
)
def test_bad_arguments_exit_with_one_line(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    # the command's name, as README says: "loopnet compare: error: ..."
    prog = "loopnet" if argv[:1] in ([], ["fit"]) else f"loopnet {argv[0]}"
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: ")
    assert message in err and "Traceback" not in err


@needs_matplotlib  # asked for before the folder is checked
def test_unwritable_figure_exits_with_status_1(capsys, tmp_path):
    missing = tmp_path / "missing" / "net.png"
    status, _, err = run(capsys, "diagram", "-o", str(missing))
    assert status == 1 and err.count("\n") == 1
    assert f"-o {missing}: the folder" in err
    status, out, err = run(
        capsys, "bench", "--widths", "2", "--batches", "1", "--plot", str(missing)
    )
    assert status == 1 and out == "" and "--plot" in err


def test_missing_matplotlib_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    status, _, err = run(capsys, "diagram", "-o", str(tmp_path / "net.png"))
    assert (
        status == 1 and err.count("\n") == 1 and 'pip install -e ".[examples]"' in err
    )


@pytest.mark.parametrize(
    "command",
    [[], ["compare"], ["train"], ["bench"], ["trace"], ["diagram"], ["warmup"]],
)
def test_help(capsys, command):
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0 and out.startswith(f"usage: loopnet {' '.join(command)}".strip())


def test_python_m_loopnet_help():
    result = subprocess.run(
        [sys.executable, "-m", "loopnet", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == ""
    # the command list, warmup added
    assert "{compare,train,bench,trace,diagram,warmup}" in result.stdout


# --- the same threads for both forms, said in the output -----------------------


def test_compare_pins_both_forms_to_one_thread_by_default(capsys):
    before = numba.get_num_threads()
    status, out, _ = run(capsys, "compare", "--sizes", "4,3,2", "--repeat", "1")
    assert status == 0 and numba.get_num_threads() == before
    line = next(line for line in out.splitlines() if line.startswith("threads:"))
    assert line.startswith("threads: numba 1 (") and ", BLAS 1 (" in line
    assert "load average" in line


def test_compare_threads_option(capsys):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba's pool has one thread (NUMBA_NUM_THREADS=1)")
    status, out, _ = run(
        capsys, "compare", "--sizes", "4,3,2", "--repeat", "1", "--threads", "2"
    )
    assert status == 0
    report_line = next(line for line in out.splitlines() if line.startswith("threads"))
    assert report_line.startswith("threads: numba 2 (") and ", BLAS 2 (" in report_line
    too_many = str(numba.config.NUMBA_NUM_THREADS + 1)
    status, _, err = run(capsys, "compare", "--sizes", "4,3,2", "--threads", too_many)
    assert status == 2 and "threads" in err and "NUMBA_NUM_THREADS" in err


@needs_matplotlib  # --plot
def test_bench_says_its_threads_under_the_table_and_on_the_plot(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.setattr(os, "getloadavg", lambda: (5.0, 5.0, 5.0))  # a busy machine
    plot = tmp_path / "speed.png"
    status, out, _ = run(
        capsys,
        *("bench", "--widths", "3", "--batches", "1", "--repeat", "1"),
        *("--depth", "1", "--plot", str(plot)),
    )
    assert status == 0
    lines = out.splitlines()
    threads = next(line for line in lines if line.startswith("threads:"))
    assert threads.startswith("threads: numba 1 (") and ", BLAS 1 (" in threads
    assert "load average 5.00 on" in threads
    assert any(line.startswith("warning: the load average is 5.00") for line in lines)
    assert lines[-1] == f"wrote {plot}"

    from loopnet.compare import bench_point
    from loopnet.plots import bench_figure

    figure = bench_figure([bench_point(3, 1, depth=1, repeat=1)], threads)
    assert figure.get_suptitle() == threads


@pytest.mark.parametrize("pinned", [False, True])
def test_bench_says_when_openblas_is_pinned_to_a_kernel(capsys, monkeypatch, pinned):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    if pinned:
        monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    else:
        monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    status, out, _ = run(
        capsys, "bench", "--widths", "2", "--batches", "1", "--repeat", "1"
    )
    assert status == 0
    warned = [line for line in out.splitlines() if "OPENBLAS_CORETYPE" in line]
    if pinned:
        expected = (
            "warning: OPENBLAS_CORETYPE=Haswell in the environment: OpenBLAS runs"
            " the kernel it names, not its own choice for this CPU, so the matrix"
            " form may be slower than it can be (1.5-2x on loopnet's machines);"
            " unset OPENBLAS_CORETYPE before starting Python for its best"
        )
        assert warned == [expected]
    else:
        assert warned == [] and "warning" not in out
