"""loopnet's kept speed history: bring it up to date, and look at it offline.

The history is asv's own results, kept in the repository under
``benchmarks/results/``, one folder per machine (``kept_machines``, each
described in its ``machine.json``). The plan is every second merge commit of
main's first-parent history from ``FIRST_COMMIT`` on, and main's tip; each
machine covers the commits it was available to time, which ``commits`` lists.

    python -m benchmarks.history update     # time planned commits without results
    python -m benchmarks.history record --machine NAME   # time HEAD into the history
    python -m benchmarks.history show       # build the pages, serve them on 127.0.0.1
    python -m benchmarks.history commits    # which machine covers which commits

``update`` runs asv with OpenBLAS at its own kernel (asv.conf.json blanks
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for the benchmark processes), and,
where numba-cuda sees a real GPU, the GPU benchmarks of ``bench_cuda.py`` in this
environment for the checked-out commit; without a GPU it says they were skipped.
``check`` builds the pages and checks that every graph the README points at
has a line of at least two commits for each form, and with Chromium installed
takes a screenshot of each in headless Chromium (benchmarks/README.md, "The kept
history"). ``show`` publishes the pages, makes them work without a network
(``offline_pages.py``: the first run installs a few JavaScript libraries with
npm), drops the benchmarks no kept machine has results for, and serves them with
``http.server`` bound to 127.0.0.1 only (``asv preview`` would listen on every
interface).
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
"""The first kept machine: ``update``'s and ``check``'s default."""

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


def planned_commits(branch=BRANCH):
    """Every ``EVERY``-th merge into ``branch`` since FIRST_COMMIT, and its tip.

    First-parent history, oldest first, full hashes: what ``update`` times, not
    what any machine has timed (``timed_commits``).
    """
    first = git("rev-parse", FIRST_COMMIT)
    merges = git(
        "rev-list", "--first-parent", "--merges", "--reverse", f"{first}^..{branch}"
    ).split()
    tip = git("rev-parse", branch)
    return merges[::EVERY] + ([tip] if tip not in merges[::EVERY] else [])


def kept_machines():
    """The machines with results kept in ``RESULTS``, sorted by name."""
    return sorted(path.parent.name for path in RESULTS.glob("*/machine.json"))


def timed_commits(machine):
    """Full hashes of the commits with asv results for ``machine``."""
    paths = (RESULTS / machine).glob("*-env-*.json")
    return {json.loads(path.read_text())["commit_hash"] for path in paths}


def same_package(commit, other):
    """Whether ``loopnet/`` is the same tree at the two commits."""
    result = subprocess.run(
        ["git", "diff", "--quiet", commit, other, "--", "loopnet"],
        cwd=ROOT,
        check=False,
    )
    return result.returncode == 0


def coverage(order, planned, timed, tip, same_as_tip):
    """Which machine covers which commits, and whether the tip's package is timed.

    Parameters
    ----------
    order : list of str
        Main's first-parent commits, oldest first.
    planned : set of str
        The commits the history plans to time (``planned_commits``).
    timed : dict of str to set of str
        Per machine, the commits it has results for.
    tip : str
        Main's tip.
    same_as_tip : callable
        ``same_as_tip(commit)``: whether ``commit`` has the tip's ``loopnet/``.

    Returns
    -------
    rows : list of (str, dict of str to str)
        Each planned or timed commit (timed commits off main's first-parent
        history last), with per machine ``"timed"``, ``"missing"`` (planned,
        no results) or ``""``.
    tip_timed_as : dict of str to str or None
        Per machine, the latest timed commit whose ``loopnet/`` is the tip's, or
        None where the tip's package has no results on that machine.
    """
    everything = set(planned).union(*timed.values())
    listed = [commit for commit in order if commit in everything]
    listed += sorted(everything - set(listed))
    rows = []
    for commit in listed:
        marks = {}
        for machine, commits in timed.items():
            if commit in commits:
                marks[machine] = "timed"
            elif commit in planned:
                marks[machine] = "missing"
            else:
                marks[machine] = ""
        rows.append((commit, marks))
    position = {commit: at for at, commit in enumerate(order)}
    tip_timed_as = {}
    for machine, commits in timed.items():
        latest = sorted(commits, key=lambda c: position.get(c, -1), reverse=True)
        tip_timed_as[machine] = next(
            (c for c in latest if c == tip or same_as_tip(c)), None
        )
    return rows, tip_timed_as


def describe(commit):
    """``hash date subject`` of one commit."""
    return git("log", "-1", "--format=%h %ad %s", "--date=short", commit)


def print_coverage(branch=BRANCH):
    """Print which kept machine covers which commits, and the tip's coverage."""
    first = git("rev-parse", FIRST_COMMIT)
    order = git("rev-list", "--first-parent", "--reverse", f"{first}^..{branch}")
    order = order.split()
    tip = order[-1]
    machines = kept_machines()
    timed = {machine: timed_commits(machine) for machine in machines}
    rows, tip_timed_as = coverage(
        order, set(planned_commits(branch)), timed, tip, lambda c: same_package(c, tip)
    )
    print(
        f"planned: 1 merge in {EVERY} into {branch} from {FIRST_COMMIT}, and its tip;"
        " timed: the commits each machine has results for"
        " (benchmarks/results/MACHINE)\n"
    )
    width = max(len(m) for m in machines)
    print("  ".join(f"{m:<{width}}" for m in machines) + "  commit")
    for commit, marks in rows:
        cells = "  ".join(f"{marks[m] or '-':<{width}}" for m in machines)
        note = " (tip)" if commit == tip else ""
        if commit == tip and any(tip_timed_as.values()):
            same = sorted({c for c in tip_timed_as.values() if c and c != tip})
            if same:
                shorts = ", ".join(git("rev-parse", "--short", c) for c in same)
                note = f" (tip; its loopnet/ is that of {shorts})"
        print(f"{cells}  {describe(commit)[:72]}{note}")
    print()
    position = {commit: at for at, commit in enumerate(order)}
    for machine in machines:
        commits = sorted(timed[machine], key=lambda c: position.get(c, -1))
        if not commits:
            print(f"{machine}: no results")
            continue
        last = commits[-1]
        behind = len(order) - 1 - position.get(last, len(order) - 1)
        span = f"{git('log', '-1', '--format=%h %ad', '--date=short', commits[0])}"
        span += f" to {git('log', '-1', '--format=%h %ad', '--date=short', last)}"
        print(f"{machine}: {len(commits)} commits, {span}", end="")
        if tip_timed_as[machine] is None:
            print(f"; its last results are {behind} commits of {branch} behind the tip")
        elif tip_timed_as[machine] == tip:
            print("; the tip is timed")
        else:
            short = git("rev-parse", "--short", tip_timed_as[machine])
            print(f"; the tip's loopnet/ is that of {short}, timed")
    covering = [m for m in machines if tip_timed_as[m] is not None]
    tip_short = git("rev-parse", "--short", tip)
    if covering:
        print(
            f"the tip's loopnet/ ({tip_short}) is timed on:",
            ", ".join(covering),
        )
    else:
        print(f"the tip's loopnet/ ({tip_short}) is timed on no kept machine")


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
    commits = planned_commits()
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


def record(commit, machine, bench=HISTORY_BENCH):
    """Time one commit on ``machine`` into ``RESULTS``; print the files to commit.

    The routine for a change to the compiled code (docs/contributing.md): its
    commit's results go into the history with the change, on a kept machine.
    """
    if machine not in kept_machines():
        print(
            f"{machine} is not a kept machine yet: its results go to"
            f" benchmarks/results/{machine}/, which .gitignore ignores until it"
            f" has a line !benchmarks/results/{machine}/ (benchmarks/README.md)"
        )
    ensure_machine(machine)
    full = git("rev-parse", commit)
    arguments = ["run", f"{full}^!", "--machine", machine, "--show-stderr"]
    if asv(*arguments, "--bench", bench, check=False) != 0:
        print("some benchmarks failed: recorded as failed")
    files = sorted((RESULTS / machine).glob(f"{full[:8]}-*.json"))
    if not files:
        sys.exit(f"asv wrote no results for {full[:8]} on {machine}")
    print("add to the submission:")
    for path in files + [RESULTS / "benchmarks.json"]:
        print(f"  git add {path.relative_to(ROOT)}")


def build_pages():
    """``asv publish``, the pages made to work offline, and no empty tiles."""
    asv("publish")
    offline_pages.main([str(HTML)])
    dropped = drop_unrun_benchmarks(HTML)
    if dropped:
        print(f"no kept results, not shown: {', '.join(dropped)}")


def drop_unrun_benchmarks(html):
    """Remove from the pages' index the benchmarks without a single value.

    asv lists every benchmark of the suite, so the grid had an empty tile for
    each one the history does not run (``HISTORY_BENCH``) or no longer runs.
    Returns the names dropped.
    """
    index_path = html / "index.json"
    index = json.loads(index_path.read_text())
    dropped = [
        name
        for name in index["benchmarks"]
        if not any(
            has_value(json.loads(path.read_text()))
            for path in html.glob(f"graphs/**/{name}.json")
            if "summary" not in path.parts
        )
    ]
    for name in dropped:
        del index["benchmarks"][name]
    write_atomically(index_path, json.dumps(index))
    return dropped


def has_value(series):
    """Whether a graph's ``[[revision, value or values], ...]`` holds a number."""
    for _, values in series:
        values = values if isinstance(values, list) else [values]
        if any(value is not None for value in values):
            return True
    return False


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, suffix=".tmp", delete=False
    ) as temporary:
        temporary.write(text)
    os.replace(temporary.name, path)


GRAPHS = {
    "bench_gradient.GradientForms.time_gradient": ("loop", "matrix"),
    "bench_fit.EpochForms.time_epoch": ("fit", "numpy"),
    "bench_gradient.GradientRatio.track_loop_over_matrix": (),
    "bench_fit.EpochRatio.track_fit_over_numpy": (),
}
"""The graphs the README points at, and the forms each must draw a line for."""


def history_lines(benchmark, forms, machine=REFERENCE_MACHINE):
    """Commits with a value, per parameter combination of ``benchmark``'s graph.

    From the published pages of ``machine``; only the combinations of ``forms``
    when given.
    """
    index = json.loads((HTML / "index.json").read_text())
    params = index["benchmarks"][benchmark]["params"]
    names = index["benchmarks"][benchmark]["param_names"]
    combinations = list(itertools.product(*params))
    counts = dict.fromkeys(combinations, 0)
    for path in HTML.glob(f"graphs/**/machine-{machine}/**/{benchmark}.json"):
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

    On every kept machine: a machine whose history has fewer commits fails.

    With Chromium installed, also take a screenshot of each graph's page, served
    on 127.0.0.1, into ``.asv/screenshots`` (look at them: the check cannot see
    pixels), and fail if one is missing.
    """
    build_pages()
    failures = []
    for machine, (benchmark, forms) in itertools.product(
        kept_machines(), GRAPHS.items()
    ):
        for combination, n in history_lines(benchmark, forms, machine).items():
            print(f"{machine} {benchmark} {combination}: {n} commits")
            if n < 2:
                failures.append(f"{machine} {benchmark} {combination}")
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
    one = commands.add_parser("record", help="time one commit (HEAD) into the history")
    one.add_argument("commit", nargs="?", default="HEAD")
    one.add_argument("--machine", required=True, help="a kept machine's name")
    one.add_argument("--bench", default=HISTORY_BENCH)
    show = commands.add_parser("show", help="build the pages, serve on 127.0.0.1")
    show.add_argument("--port", type=int, default=8080)
    show.add_argument("--no-serve", action="store_true", help="only build them")
    commands.add_parser("check", help="the README's graphs have history lines")
    commands.add_parser("commits", help="which machine covers which commits")
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.machine, args.bench)
    elif args.command == "record":
        record(args.commit, args.machine, args.bench)
    elif args.command == "show":
        build_pages()
        if not args.no_serve:
            serve(args.port)
    elif args.command == "check":
        check()
    else:
        print_coverage()


if __name__ == "__main__":
    main()
