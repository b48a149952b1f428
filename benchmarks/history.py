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
import os
import subprocess
import sys
import tempfile
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
    """Every ``EVERY``-th merge of ``branch``'s first-parent history since
    FIRST_COMMIT, and its tip.

    Oldest first, full hashes.
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
        asv(*arguments)
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
    commands.add_parser("commits", help="the commits the history covers")
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.machine, args.bench)
    elif args.command == "show":
        build_pages()
        if not args.no_serve:
            serve(args.port)
    else:
        for commit in covered_commits():
            print(git("log", "-1", "--format=%h %ad %s", "--date=short", commit))


if __name__ == "__main__":
    main()
