"""loopnet's kept speed history: bring it up to date, and look at it offline.

The history is asv's own results, kept in the repository under
``benchmarks/results/`` for one reference machine (``REFERENCE_MACHINE``,
described in its ``machine.json``): every merge commit of main's first-parent
history from ``FIRST_COMMIT`` on, and main's tip.

    python -m benchmarks.history update     # time the commits that have no results
    python -m benchmarks.history show       # build the pages, serve them on 127.0.0.1
    python -m benchmarks.history commits    # list the commits the history covers

``update`` runs asv with OpenBLAS at its own kernel (asv.conf.json blanks
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for the benchmark processes), and,
where numba-cuda sees a real GPU, the GPU benchmarks of ``bench_cuda.py`` in this
environment for the checked-out commit; without a GPU it says they were skipped.
``check`` builds the pages and checks that every graph the README points at
has a line of at least two commits for each form, and with Chromium installed
takes a screenshot of each in headless Chromium (benchmarks/README.md, "The kept
history"). ``show`` publishes the pages, makes them work without a network
(``offline_pages.py``), and serves them with ``http.server`` bound to 127.0.0.1
only (``asv preview`` would listen on every interface).
"""

import argparse
import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks import offline_pages

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HTML = ROOT / ".asv" / "html"

REFERENCE_MACHINE = "ref-epyc-zen3-2core"
"""The machine whose results the repository keeps (benchmarks/README.md)."""

HISTORY_BENCH = (
    r"(GradientForms|GradientRatio\.track_loop_over_matrix|EpochForms|EpochRatio"
    r"|ImportAndFirstGradient\.timeraw_warm_cache)"
)
"""The benchmarks the kept history holds: every form's gradient and epoch on one
graph per workload, their ratios, and the warm start-up (about 5 minutes a commit
here; the whole suite takes three times as long)."""

EVERY = 2
"""The history's spacing: every second merge into main from ``FIRST_COMMIT`` on
(and main's tip). Counted from the first, so a later update adds new commits and
never moves the old ones."""

FIRST_COMMIT = "21db1b9"
"""The first merge into main that the benchmarks run on (the compare report)."""

BRANCH = "main"


def git(*args):
    """Output of a git command in the repository, stripped."""
    result = subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def covered_commits(branch=BRANCH):
    """Every ``EVERY``-th merge into ``branch`` since FIRST_COMMIT, and its tip.

    First-parent history, oldest first, full hashes.
    """
    first = git("rev-parse", FIRST_COMMIT)
    merges = git(
        "rev-list", "--first-parent", "--merges", "--reverse", f"{first}^..{branch}"
    ).split()
    tip = git("rev-parse", branch)
    return merges[::EVERY] + ([tip] if tip not in merges[::EVERY] else [])


def asv(*args, check=True):
    """Run asv in the repository root; its output goes to the terminal."""
    command = [sys.executable, "-m", "asv", *args]
    print("$", " ".join(command[2:]), flush=True)
    return subprocess.run(command, cwd=ROOT, check=check).returncode


def ensure_machine(machine):
    """Describe ``machine`` to asv (``asv machine``) unless it knows it already."""
    known = Path.home() / ".asv-machine.json"
    if known.is_file() and f'"{machine}"' in known.read_text():
        return
    asv("machine", "--machine", machine, "--yes")


def gpu_present():
    """Whether numba-cuda sees a real GPU (not the simulator)."""
    try:
        import loopnet.cuda as lc
        from loopnet.cuda._backend import simulator
    except ImportError:
        return False
    return lc.is_available() and not simulator()


def update(machine, bench=HISTORY_BENCH):
    """Time every covered commit that has no results for ``machine`` yet."""
    ensure_machine(machine)
    commits = covered_commits()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(commits) + "\n")
    try:
        arguments = ["run", f"HASHFILE:{listing.name}", "--skip-existing-commits"]
        arguments += ["--machine", machine, "--show-stderr", "--bench", bench]
        if asv(*arguments, check=False) != 0:
            # asv exits non-zero when a benchmark failed at some commit: old
            # commits lack newer APIs, and one crashed (benchmarks/README.md)
            print("some benchmarks failed at some commits: recorded as failed")
    finally:
        os.unlink(listing.name)
    if gpu_present():
        asv(
            "run",
            "-E",
            "existing:python",
            "--bench",
            "Cuda",
            "--machine",
            machine,
            "--set-commit-hash",
            git("rev-parse", "HEAD"),
        )
    else:
        print(
            "no GPU here (numba-cuda missing or it sees no device): the GPU"
            " benchmarks of bench_cuda.py were skipped"
        )


def build_pages():
    """``asv publish``, then the pages made to work offline, y axes from 0."""
    asv("publish")
    offline_pages.main([str(HTML)])


GRAPHS = {
    "bench_gradient.GradientForms.time_gradient": ("loop", "matrix"),
    "bench_fit.EpochForms.time_epoch": ("fit", "numpy"),
    "bench_gradient.GradientRatio.track_loop_over_matrix": (),
    "bench_fit.EpochRatio.track_fit_over_numpy": (),
}
"""The graphs the README points at, and the forms each must draw a line for."""


def history_lines(benchmark, forms):
    """Commits with a value, per parameter combination of ``benchmark``'s graph.

    From the published pages of the reference machine; only the combinations of
    ``forms`` when given.
    """
    index = json.loads((HTML / "index.json").read_text())
    params = index["benchmarks"][benchmark]["params"]
    names = index["benchmarks"][benchmark]["param_names"]
    combinations = list(itertools.product(*params))
    counts = dict.fromkeys(combinations, 0)
    for path in HTML.glob(f"graphs/**/machine-{REFERENCE_MACHINE}/**/{benchmark}.json"):
        for _, values in json.loads(path.read_text()):
            values = values if isinstance(values, list) else [values]
            for combination, value in zip(combinations, values, strict=True):
                counts[combination] += value is not None
    if forms:
        at = names.index("form")
        counts = {key: n for key, n in counts.items() if key[at].strip("'") in forms}
    return counts


def check(port=8181):
    """Build the pages; fail unless each README graph has lines of >= 2 commits.

    With Chromium installed, also take a screenshot of each graph's page, served
    on 127.0.0.1, into ``.asv/screenshots`` (look at them: the check cannot see
    pixels), and fail if one is missing.
    """
    build_pages()
    failures = []
    for benchmark, forms in GRAPHS.items():
        for combination, n in history_lines(benchmark, forms).items():
            print(f"{benchmark} {combination}: {n} commits")
            if n < 2:
                failures.append(f"{benchmark} {combination}")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no Chromium here: the graphs' data was checked, no screenshots taken")
    else:
        failures += screenshots(browser, port)
    if failures:
        sys.exit("no history line (fewer than 2 commits) for: " + ", ".join(failures))
    print("every graph has its history lines")


def screenshots(browser, port):
    """Screenshots of the ``GRAPHS`` pages in headless Chromium; the failures."""
    shots = ROOT / ".asv" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(QuietHandler, directory=str(HTML))
    failures = []
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for benchmark in GRAPHS:
            image = shots / f"{benchmark}.png"
            image.unlink(missing_ok=True)
            command = [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,1000",
                "--virtual-time-budget=15000",
                f"--screenshot={image}",
                f"http://127.0.0.1:{port}/#{benchmark}",
            ]
            subprocess.run(command, capture_output=True, timeout=120, check=False)
            if image.is_file() and image.stat().st_size > 0:
                print(f"screenshot: {image.relative_to(ROOT)}")
            else:
                failures.append(f"{benchmark} (no screenshot)")
        server.shutdown()
    return failures


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """``http.server``'s handler without a log line per request."""

    def log_message(self, format, *args):
        pass


def serve(port):
    """Serve the pages on 127.0.0.1:``port`` until Ctrl-C."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(HTML)
    )
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"the history: http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("update", help="time the commits without results")
    run.add_argument("--machine", default=REFERENCE_MACHINE)
    run.add_argument(
        "--bench",
        default=HISTORY_BENCH,
        help="benchmarks matching this expression (default: HISTORY_BENCH)",
    )
    show = commands.add_parser("show", help="build the pages, serve on 127.0.0.1")
    show.add_argument("--port", type=int, default=8080)
    show.add_argument("--no-serve", action="store_true", help="only build them")
    commands.add_parser("check", help="the README's graphs have history lines")
    commands.add_parser("commits", help="the commits the history covers")
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.machine, args.bench)
    elif args.command == "show":
        build_pages()
        if not args.no_serve:
            serve(args.port)
    elif args.command == "check":
        check()
    else:
        for commit in covered_commits():
            print(git("log", "-1", "--format=%h %ad %s", "--date=short", commit))


if __name__ == "__main__":
    main()
