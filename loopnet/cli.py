"""The ``loopnet`` command line: compare, train, bench, trace, diagram and warmup.

    loopnet compare [--sizes 784,100,10] [--batch 64] [--json] ...
    loopnet train digits [--epochs 30] [--batch-size 10] [--lr 3.0] [--save PATH]
                         [--optimizer sgd] [--init nielsen] [--early-stopping]
    loopnet bench [--widths 16,64,256,1024] [--batches 1,10,64,256] [--plot speed.png]
    loopnet trace [--example worked | --sizes 2,3,1 --seed 0] [--html trace.html]
    loopnet diagram [--sizes 2,3,1] [--example worked] -o net.png
    loopnet warmup [--dtypes float32,float64]

On a terminal, a command about to compile kernels (the first run, or after an
upgrade) says so on standard error first; ``warmup`` compiles them all ahead of
time. Every command and option has ``--help``. A bad argument prints one line,
``loopnet <command>: error: ...``, and exits with status 2; a file that cannot
be written exits with status 1, as does ``compare`` when the two forms disagree.
"""

import argparse
import json
import os
import re
import sys
import time

from tqdm import tqdm

from loopnet._validation import check_real
from loopnet.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from loopnet.backends import loop
from loopnet.compare import (
    DEFAULT_THREADS,
    bench_point,
    blas_overrides,
    blas_warning,
    compare,
    format_bench,
    load_warning,
    machine_load,
    random_batch,
    threads_in_use,
)
from loopnet.costs import COSTS
from loopnet.initializations import INITIALIZATIONS
from loopnet.network import Network
from loopnet.notation import NOTATIONS
from loopnet.plots import bench_figure, figure_class, network_figure
from loopnet.saving import write_text
from loopnet.trace import (
    EXPLANATION,
    LR,
    MAX_BATCH,
    network_line,
    trace,
    worked_example,
    worked_trace,
)
from loopnet.training import OPTIMIZERS
from loopnet.warmup import DTYPES, warmup

EXAMPLES = ("worked", "worked-batch", "random")
NETWORK_OPTIONS = ("activation", "output", "cost", "dtype", "no_bias")
DEFAULTS = {
    "activation": "sigmoid",
    "output": "sigmoid",
    "cost": "quadratic",
    "dtype": "float64",
    "no_bias": False,
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, without the usage block.

    A word that starts with a dash and a digit (``--sizes -5,3,1``) is a value,
    not an option, so that its option's own check says what is wrong with it;
    argparse takes only a plain negative number (``-5``) for a value.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # no option of loopnet's starts with a digit
        self._negative_number_matcher = re.compile(r"^-\d")

    def error(self, message):
        """Print ``prog: error: message`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _counts(text, minimum_length=1, example="784,100,10"):
    """Parse ``"784,100,10"`` into a tuple of positive ints."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as {example};"
            f" got {text!r}"
        )
    if len(parts) < minimum_length:
        raise argparse.ArgumentTypeError(
            f"expected at least {minimum_length} layer sizes (inputs, outputs);"
            f" got {text!r}"
        )
    return tuple(int(part) for part in parts)


def _sizes(text):
    return _counts(text, minimum_length=2)


def _widths(text):
    return _counts(text, example="16,64,256")


def _dtypes(text):
    parts = tuple(part.strip() for part in text.split(","))
    if not parts or any(part not in DTYPES for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected float32, float64 or both, comma-separated; got {text!r}"
        )
    return parts


def _positive(text):
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return int(text)


def _real(low, high=None, low_open=False):
    """An argparse type: a float in [low, high), or (low, high) if ``low_open``."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a number; got {text!r}"
            ) from None
        try:
            return check_real(value, "value", low, high, low_open=low_open)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_network_options(parser, with_defaults):
    """Options that choose the network: activations, cost, dtype, bias, seed."""
    defaults = DEFAULTS if with_defaults else dict.fromkeys(DEFAULTS)
    note = "" if with_defaults else "; not with --example worked"

    def shown(name):
        return f" (default: {DEFAULTS[name]}{note})"

    parser.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default=defaults["activation"],
        help="activation of the hidden layers" + shown("activation"),
    )
    parser.add_argument(
        "--output",
        choices=tuple(ACTIVATIONS),
        default=defaults["output"],
        help="activation of the output layer" + shown("output"),
    )
    parser.add_argument(
        "--cost",
        choices=tuple(COSTS),
        default=defaults["cost"],
        help="cost function" + shown("cost"),
    )
    parser.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default=defaults["dtype"],
        help="precision of parameters and computation" + shown("dtype"),
    )
    parser.add_argument(
        "--no-bias",
        action="store_true",
        default=defaults["no_bias"],
        help="a network without biases" + (f" ({note[2:]})" if note else ""),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the network's initialization and of the random inputs"
        " (default: 0)",
    )


def _add_threads_option(parser):
    """``--threads``: both forms on the same number of threads."""
    parser.add_argument(
        "--threads",
        type=_positive,
        default=DEFAULT_THREADS,
        help="threads of each form: Numba's pool for the loops and BLAS's for the"
        f" matrix form are both pinned to it (default: {DEFAULT_THREADS})",
    )


def _network(args, sizes):
    options = {name: getattr(args, name) for name in NETWORK_OPTIONS}
    options = {
        name: DEFAULTS[name] if value is None else value
        for name, value in options.items()
    }
    return Network(
        sizes,
        options["activation"],
        options["output"],
        options["cost"],
        bias=not options["no_bias"],
        dtype=options["dtype"],
        seed=args.seed,
        init=getattr(args, "init", "nielsen"),
    )


def _example_network(args, default_example):
    """Return ``(net, X, Y, worked)`` for ``trace``/``diagram``; X, Y may be None.

    ``default_example`` applies when ``--example`` is not given; ``None`` means
    no example (the network alone).
    """
    example = args.example or default_example
    if example in ("worked", "worked-batch"):
        if args.sizes not in (None, (2, 3, 1)):
            raise ValueError(
                f"--example {example} is seed 001's 2-3-1 network; --sizes"
                f" {','.join(map(str, args.sizes))} does not match it"
            )
        given = [
            name
            for name in (*NETWORK_OPTIONS, "batch")
            if getattr(args, name, None) is not None
        ]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ValueError(f"--example {example} fixes the network; drop {flag}")
        return (*worked_example(example), True)
    net = _network(args, args.sizes or (2, 3, 1))
    if example is None:
        return net, None, None, False
    X, Y = random_batch(net, getattr(args, "batch", None) or 1, args.seed)
    return net, X, Y, False


def _check_folder(path, option):
    """Fail before the work if ``path`` cannot name a new file.

    It must not be empty or a folder, and its folder must exist.
    """
    if not path:
        raise ValueError(f"{option} needs a file name, got an empty one")
    if os.path.isdir(path):
        raise OSError(f"{option} {path}: is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OSError(f"{option} {path}: the folder {folder} does not exist")


def _save_figure(figure, path, dpi):
    """Write ``figure`` at exactly ``path``; PNG when the name has no extension.

    Without an explicit format matplotlib appends ``.png`` to a name without
    an extension, writing a file other than the one named.
    """
    extension = os.path.splitext(path)[1][1:]
    figure.savefig(path, dpi=dpi, format=extension or "png")


def _check_writable(path, option):
    """Fail before the work if the figure's folder is missing or matplotlib is."""
    figure_class()
    _check_folder(path, option)


# --- commands ------------------------------------------------------------------


def _run_compare(args):
    net = _network(args, args.sizes)
    X, Y = random_batch(net, args.batch, args.seed)
    report = compare(net, X, Y, args.repeat, args.reduction, args.l2, args.threads)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0 if report.agree else 1


def _progress(items, description):
    """Wrap ``items`` in a tqdm bar on stderr (tqdm is a dependency)."""
    # disable=None: the bar shows on a terminal only, not in logs and pipes
    return tqdm(items, desc=description, unit="cell", file=sys.stderr, disable=None)


def _run_bench(args):
    if args.plot is not None:
        _check_writable(args.plot, "--plot")
    cells = [(width, n_batch) for width in args.widths for n_batch in args.batches]
    load = machine_load()
    points = [
        bench_point(
            width, n_batch, args.depth, args.dtype, args.repeat, args.seed, args.threads
        )
        for width, n_batch in _progress(cells, "loopnet bench")
    ]
    threads = threads_in_use(args.threads, load)
    warnings = (load_warning(load, args.threads), blas_warning(blas_overrides()))
    notes = [threads, *(f"warning: {w}" for w in warnings if w is not None)]
    print(format_bench(points, notes))
    if args.plot is not None:
        _save_figure(bench_figure(points, threads), args.plot, args.dpi)
        print(f"wrote {args.plot}")
    return 0


def _run_train(args):
    from loopnet.datasets import digits

    data = digits(seed=args.seed)
    net = _network(args, (64, args.hidden, 10))
    if args.save is not None:
        _check_folder(args.save, "--save")
    stopping = ", early stopping" if args.early_stopping else ""
    print(
        f"{network_line(net)}: {data.X_train.shape[0]} training and"
        f" {data.X_test.shape[0]} test digits; {args.epochs} epochs,"
        f" batch {args.batch_size}, {args.optimizer} lr {args.lr}, init"
        f" {args.init}{stopping}, seed {args.seed}"
    )

    def report(row):
        """Print the epoch's line as it ends, above the progress bar."""
        if args.early_stopping:  # the held-out cost steers; the test set is apart
            accuracy = net.score(data.X_test, data.labels_test)
            held_out = f"  held-out cost {row['val_cost']:.5f}"
        else:
            accuracy, held_out = row["val_accuracy"], ""
        tqdm.write(
            f"epoch {row['epoch']:3d}  training cost {row['cost']:.5f}{held_out}"
            f"  test accuracy {accuracy:.4f}"
        )

    history = net.fit(
        data.X_train,
        data.Y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        l2=args.l2,
        momentum=args.momentum,
        seed=args.seed,
        validation=None if args.early_stopping else (data.X_test, data.Y_test),
        progress=True,
        optimizer=args.optimizer,
        early_stopping=args.early_stopping,
        callback=report,
    )
    if args.early_stopping:
        ended = "stopped after" if history.stopped_by else "ran"
        print(
            f"{ended} epoch {history.epochs}; the held-out cost was lowest in epoch"
            f" {history.best_epoch}, whose network is kept"
        )
    seconds = sum(history.seconds) / history.epochs
    print(
        f"test accuracy {net.score(data.X_test, data.labels_test):.4f}"
        f" ({seconds * 1e3:.1f} ms per epoch; compile or cache load"
        f" {history.compile_seconds:.2f} s)"
    )
    if args.save is not None:
        net.save(args.save)
        print(f"saved {args.save}")
    return 0


def _run_trace(args):
    if args.html is not None:
        _check_folder(args.html, "--html")
    if args.batch is not None and args.batch > MAX_BATCH:
        raise ValueError(
            f"--batch {args.batch}: trace follows at most {MAX_BATCH} examples"
        )
    default = "random" if args.sizes is not None else "worked"
    net, X, Y, worked = _example_network(args, default)
    if worked:
        result = worked_trace(args.example or "worked", args.lr)
    else:
        header = (
            f"{network_line(net)}, seed {args.seed};",
            f"{X.shape[0]} random example(s), seed {args.seed}.",
            *EXPLANATION,
        )
        result = trace(net, X, Y, header, lr=args.lr)
    if args.html is None:
        print(result)
        return 0
    write_text(args.html, result.to_html(args.notation))
    print(f"wrote {args.html}")
    return 0


def _run_warmup(args):
    def report(item):
        print(f"{item.dtype}  {item.name:<34} {item.state:>9}  {item.seconds:6.2f} s")

    started = time.perf_counter()
    warmed, skipped = warmup(args.dtypes, report, args.parallel)
    for name in skipped:
        print(f"kernels.{name}: not warmed (an argument name warmup does not know)")
    print(
        f"warmed {len(warmed)} entries in {time.perf_counter() - started:.1f} s;"
        " later processes load them from Numba's cache"
    )
    return 0


def _run_diagram(args):
    _check_writable(args.out, "-o")
    net, X, Y, worked = _example_network(args, None)
    title = None
    if worked:
        title = "seed 001's worked example: W1 = ones(2, 3), W2 = ones(3, 1)"
    elif X is not None:
        title = f"network {list(net.sizes)}, a random example (seed {args.seed})"
    _save_figure(network_figure(net, X, Y, title), args.out, args.dpi)
    print(f"wrote {args.out}")
    return 0


# --- the parser ----------------------------------------------------------------


def build_parser():
    """Build the ``loopnet`` argument parser with its commands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = _Parser(
        prog="loopnet",
        description="Backpropagation as per-index loops compiled with Numba, side by"
        " side with its NumPy matrix form.",
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="{compare,train,bench,trace,diagram,warmup}",
    )

    compare = commands.add_parser(
        "compare",
        help="agreement and speed of the loop and matrix forms on one network",
        description="Build a seeded network and a random batch, compute the gradient"
        " with the compiled loops and with the NumPy matrix form, and print per"
        " layer the largest difference in z, a, delta, dW and dbias, then the median"
        " time of each form. Exits with status 1 if the forms disagree.",
    )
    compare.add_argument(
        "--sizes",
        type=_sizes,
        default=(784, 100, 10),
        help="units per layer, inputs first (default: 784,100,10)",
    )
    compare.add_argument(
        "--batch",
        type=_positive,
        default=64,
        help="examples in the batch (default: 64)",
    )
    _add_network_options(compare, with_defaults=True)
    compare.add_argument(
        "--reduction",
        choices=("mean", "sum"),
        default="mean",
        help="gradient of the mean or the summed cost (default: mean)",
    )
    compare.add_argument(
        "--l2", type=float, default=0.0, help="L2 strength on weights (default: 0)"
    )
    compare.add_argument(
        "--repeat",
        type=_positive,
        default=5,
        help="timed gradient calls of each form, after a warm-up (default: 5)",
    )
    _add_threads_option(compare)
    compare.add_argument(
        "--json", action="store_true", help="print the report as JSON instead"
    )
    compare.set_defaults(run=_run_compare)

    train = commands.add_parser(
        "train",
        help="train a network on a bundled data set and print its test accuracy",
        description="Train a [64, HIDDEN, 10] network on scikit-learn's bundled 8x8"
        " digits (no download; needs the examples extra) by mini-batch SGD in"
        " compiled code, with a progress bar on a terminal; print the test accuracy"
        " of every epoch, and optionally save the trained network.",
    )
    train.add_argument("dataset", choices=("digits",), help="the data set: digits")
    train.add_argument(
        "--epochs",
        type=_positive,
        default=30,
        help="passes over the data (default: 30)",
    )
    train.add_argument(
        "--batch-size", type=_positive, default=10, help="mini-batch size (default: 10)"
    )
    train.add_argument(
        "--lr",
        type=_real(0, low_open=True),
        default=3.0,
        help="learning rate (default: 3.0)",
    )
    train.add_argument(
        "--l2", type=_real(0), default=0.0, help="L2 strength on weights (default: 0)"
    )
    train.add_argument(
        "--momentum", type=_real(0, 1), default=0.0, help="in [0, 1) (default: 0)"
    )
    train.add_argument(
        "--hidden", type=_positive, default=30, help="hidden units (default: 30)"
    )
    train.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="sgd",
        help="sgd (classical momentum with --momentum), nesterov or adam"
        " (default: sgd)",
    )
    train.add_argument(
        "--init",
        choices=tuple(INITIALIZATIONS),
        default="nielsen",
        help="how the weights are drawn (default: nielsen)",
    )
    train.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out 10%% of the training digits; stop when their cost has not"
        " improved for 10 epochs and keep the best epoch's network",
    )
    train.add_argument(
        "--save", metavar="PATH", help="save the trained network to PATH (.npz)"
    )
    _add_network_options(train, with_defaults=True)
    train.set_defaults(run=_run_train)

    bench = commands.add_parser(
        "bench",
        help="loop vs matrix gradient time over a sweep of widths and batch sizes",
        description="Time the gradient of a network whose layers all have one width"
        " (sigmoid, quadratic cost) in both forms, for every width and batch size,"
        " and print a table; --plot also draws time and loop/matrix ratio against"
        " width on log axes.",
    )
    bench.add_argument(
        "--widths",
        type=_widths,
        default=(16, 64, 256, 1024),
        help="units per layer, inputs included (default: 16,64,256,1024)",
    )
    bench.add_argument(
        "--batches",
        type=_widths,
        default=(1, 10, 64, 256),
        help="batch sizes (default: 1,10,64,256)",
    )
    bench.add_argument(
        "--depth",
        type=_positive,
        default=2,
        help="weight layers: the network is width x (depth + 1) (default: 2)",
    )
    bench.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="precision (default: float64)",
    )
    bench.add_argument(
        "--repeat",
        type=_positive,
        default=3,
        help="timed calls of each form per cell (default: 3)",
    )
    bench.add_argument(
        "--seed", type=int, default=0, help="seed of networks and inputs (default: 0)"
    )
    _add_threads_option(bench)
    bench.add_argument(
        "--plot", metavar="PATH", help="write a figure of the sweep to PATH (a .png)"
    )
    bench.add_argument(
        "--dpi", type=_positive, default=100, help="resolution of --plot (default: 100)"
    )
    bench.set_defaults(run=_run_bench)

    trace = commands.add_parser(
        "trace",
        help="follow one example through every equation, loop value beside matrix",
        description="Print every z_j, a_j, delta_j and dC/dw_jk of a small network"
        " with the equation that produced it, its numbers, the value computed by the"
        " per-index loop kernels and the matrix-form value. By default seed 001's"
        " 2-3-1 worked example; with --sizes, a seeded random network and input.",
    )
    trace.add_argument(
        "--example",
        choices=EXAMPLES,
        help="worked: seed 001's 2-3-1 example; worked-batch: its 3 examples;"
        " random: a random input for the --sizes network (the default with --sizes)",
    )
    trace.add_argument(
        "--sizes",
        type=_sizes,
        help="units per layer of a random network to trace, at most 6 each",
    )
    trace.add_argument(
        "--batch",
        type=_positive,
        help="random examples to trace, at most 4 (default: 1)",
    )
    trace.add_argument(
        "--lr",
        type=_real(0, low_open=True),
        default=LR,
        help=f"learning rate of the closing SGD step (default: {LR})",
    )
    trace.add_argument(
        "--html",
        metavar="PATH",
        help="write the trace as one self-contained HTML page to PATH (the network,"
        " a stepper through every equation, the tables) instead of printing it",
    )
    trace.add_argument(
        "--notation",
        choices=tuple(NOTATIONS),
        default="loopnet",
        help="the notation the --html page opens in; it has a switch (default:"
        " loopnet)",
    )
    _add_network_options(trace, with_defaults=False)
    trace.set_defaults(run=_run_trace)

    diagram = commands.add_parser(
        "diagram",
        help="draw the network: units, weights, and an example's z, a, delta",
        description="Draw the network as circles (units) and lines (weights, width"
        " and colour by value). With --example, label every unit with its z, a and"
        " delta for that example.",
    )
    diagram.add_argument(
        "-o",
        "--out",
        required=True,
        metavar="PATH",
        help="file to write, such as net.png",
    )
    diagram.add_argument(
        "--sizes",
        type=_sizes,
        help="units per layer, at most 16 each (default: 2,3,1)",
    )
    diagram.add_argument(
        "--example",
        choices=EXAMPLES,
        help="label the units with the values of an example: worked (seed 001's"
        " 2-3-1 example), worked-batch (its first row), or random",
    )
    diagram.add_argument(
        "--dpi", type=_positive, default=100, help="resolution (default: 100)"
    )
    _add_network_options(diagram, with_defaults=False)
    diagram.set_defaults(run=_run_diagram)

    warm = commands.add_parser(
        "warmup",
        help="compile every kernel now, for both dtypes (for container images)",
        description="Compile the network's drivers (gradient, forward, layer"
        " values, fit) and every public kernel, or load them from Numba's cache,"
        " so that later processes start in milliseconds: run it where the image is"
        " built, with the same NUMBA_CACHE_DIR and CPU as where it runs"
        " (docs/deployment.md).",
    )
    warm.add_argument(
        "--dtypes",
        type=_dtypes,
        default=DTYPES,
        help="comma-separated dtypes (default: float32,float64)",
    )
    warm.add_argument(
        "--parallel",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also compile the drivers' parallel forms, which large batches on"
        " several threads run (default: where Numba has more than one thread)",
    )
    warm.set_defaults(run=_run_warmup)
    for command in commands.choices.values():
        command.set_defaults(parser=command)
    return parser


COMPILES = {
    "compare": ("layer_values", "gradient"),
    "bench": ("gradient",),
    "trace": ("layer_values",),
    "diagram": ("layer_values",),
}
"""The drivers each command runs (``backends.loop.DRIVERS``); ``train`` says it
from ``fit``, ``warmup`` prints what it compiles."""


def _notify_compile(args):
    """On a terminal, say so before a command compiles kernels."""
    entries = COMPILES.get(args.command)
    if args.command == "diagram" and args.example is None:
        entries = None  # the network alone: nothing is computed
    if entries is not None:
        loop.compile_notice(entries, (getattr(args, "dtype", None) or "float64",))


def main(argv=None):
    """Run the ``loopnet`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        Exit status: 0 on success; 1 if a file cannot be written, matplotlib is
        missing, memory runs out, training diverges (``train``), or ``compare``
        finds the forms disagreeing; 2 for a bad argument.
    """
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # told by the command's parser: "loopnet compare: error: ..."
            args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:
        return exit.code
    try:
        _notify_compile(args)
        return args.run(args)
    except ValueError as error:
        status, message = 2, error
    except (OSError, ImportError, MemoryError, FloatingPointError) as error:
        status, message = 1, error
    text = " ".join(str(message).split())
    print(f"loopnet {args.command}: error: {text}", file=sys.stderr)
    return status
