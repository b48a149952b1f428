"""Make the pages of ``asv publish`` work offline, without their CDNs.

asv's published ``index.html`` loads jQuery, flot, bootstrap, blueimp-md5,
stupidtable and flot-orderbars from CDNs with ``integrity=`` hashes; without the
network it shows an error page instead of graphs. This script fetches the same
libraries from the npm registry with ``npm install`` into ``.asv/vendor`` (git
ignored, fetched once), copies them beside the pages, points every CDN address at
the local copy and drops the ``integrity``/``crossorigin``/``referrerpolicy``
attributes (the local files are not byte-identical to the CDN's minified ones).

    asv publish && python benchmarks/offline_pages.py
    python -m http.server --bind 127.0.0.1 --directory .asv/html 8080

It fails, naming the address, if the pages load a CDN address it does not know
(a newer asv), rather than leave a page that silently breaks offline.

It also patches asv's graph script (``GRAPH_PATCHES``): every y axis starts
at 0 (asv does that only for times and memory, and zooms the axis of a
``track_`` benchmark, a ratio, onto its range, so that a small wobble filled the
graph like a zig-zag; the "zoom y axis" button still zooms), a line with no point
has no legend entry, and the commit axis names each commit by hash and date.
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = [
    "jquery@3.3.1",
    "flot@0.8.3",
    "bootstrap@3.1.1",
    "blueimp-md5@2.19.0",
    "stupid-table-plugin@1.1.3",  # npm has no 1.0.1, the CDN's; the API is the same
    "flot-orderbars@1.0.0",
]

# CDN address -> path under vendor/ (npm's flot 0.8.3 ships unminified files only).
REWRITES = [
    (
        r"https://code\.jquery\.com/jquery-3\.3\.1\.min\.js",
        r"jquery/dist/jquery.min.js",
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/flot/0\.8\.3/"
        + r"(jquery\.flot[\w.]*?)\.min\.js",
        r"flot/\1.js",
    ),
    (
        r"https://cdn\.jsdelivr\.net/npm/flot-orderbars@1\.0\.0/(js/[\w.]+\.js)",
        r"flot-orderbars/\1",
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/stupidtable/[\d.]+/stupidtable\.min\.js",
        r"stupid-table-plugin/stupidtable.min.js",
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/blueimp-md5/2\.19\.0/(js/md5\.min\.js)",
        r"blueimp-md5/\1",
    ),
    (
        r"https://cdn\.jsdelivr\.net/npm/bootstrap@3\.1\.1/(dist/[\w/.]+)",
        r"bootstrap/\1",
    ),
]
GRAPH_PATCHES = (
    (
        "graphdisplay.js",
        """            if (unit_list !== null) {
                if (!zoom_y_axis) {
                    options.yaxis.min = 0.0;
                    options.yaxis.max = max * 1.3;
                }
""",
        """            if (!zoom_y_axis) {  // loopnet: every graph from 0, ratios too
                options.yaxis.min = 0.0;
                options.yaxis.max = max * 1.3;
            }
            if (unit_list !== null) {
""",
    ),
    (
        "graphdisplay.js",
        """                    orig_graphs.push({
                        data: series,
                        label: graph_content[1],
""",
        """                    // loopnet: no legend entry for a line without a point
                    // (a contender not installed where the history was timed)
                    var drawn = $.grep(series, function (point) {
                        return point[1] !== null && !isNaN(point[1]);
                    }).length > 0;
                    orig_graphs.push({
                        data: series,
                        label: drawn ? graph_content[1] : null,
""",
    ),
    (
        "graphdisplay.js",
        """                options.xaxis.axisLabel = 'commits';
                options.xaxis.tickFormatter = function (v, axis) { return ""; };
""",
        """                // loopnet: a tick per commit with a value, its hash and date
                options.xaxis.axisLabel = 'commit';
                var revisions = [];
                $.each(graphs, function (i, graph) {
                    $.each(graph.data, function (j, point) {
                        if (point[1] !== null && revisions.indexOf(point[0]) === -1) {
                            revisions.push(point[0]);
                        }
                    });
                });
                revisions.sort(function (a, b) { return b - a; });
                // newest first, so the tip always has its label; a commit
                // closer than a twelfth of the axis to a labelled one gets a
                // tick only (all get labels with even commit spacing)
                var gap = even_spacing || !revisions.length ? 0 :
                    (revisions[0] - revisions[revisions.length - 1]) / 12;
                var labelled = Infinity;
                options.xaxis.ticks = $.map(revisions, function (rev) {
                    if (labelled - rev < gap) {
                        return [[rev, ""]];
                    }
                    labelled = rev;
                    var day = new Date($.asv.main_json.revision_to_date[rev]);
                    var label = $.asv.get_commit_hash(rev) + "<br>" +
                        day.toISOString().slice(5, 10);
                    return [[rev, label]];
                });
""",
    ),
)
"""(file, asv's code, loopnet's) for the graphs: every y axis starts at 0; a
line with no point (jax, torch where they were not installed) gets no legend
entry; on the commit axis the commits with a value are labelled with short
hash and date, where asv draws no labels at all."""

DROPPED_ATTRIBUTES = re.compile(r'\s(?:integrity|crossorigin|referrerpolicy)="[^"]*"')
REMOTE = re.compile(r'(?:src|href)="(https?://[^"]+\.(?:js|css))"')


def fetch(vendor):
    """npm-install the libraries into ``vendor`` unless they are already there."""
    modules = vendor / "node_modules"
    names = [spec.rsplit("@", 1)[0] for spec in PACKAGES]
    if all((modules / name / "package.json").is_file() for name in names):
        return modules
    if shutil.which("npm") is None:
        sys.exit(
            "npm not found: the pages' libraries are installed once with npm"
            f" into {vendor} (install Node.js's npm, or copy a node_modules"
            " folder holding " + ", ".join(PACKAGES) + " there)"
        )
    print(
        f"first run: npm installs {', '.join(PACKAGES)} from the npm registry"
        f" into {vendor} (once)",
        flush=True,
    )
    vendor.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(vendor),
            "--no-package-lock",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            *PACKAGES,
        ],
        check=True,
    )
    return modules


def rewrite(page):
    """Point the CDN addresses of one page at vendor/; return the unknown ones."""
    text = page.read_text(encoding="utf-8")
    for pattern, local in REWRITES:
        text = re.sub(pattern, "vendor/" + local, text)
    text = DROPPED_ATTRIBUTES.sub("", text)
    page.write_text(text, encoding="utf-8")
    return REMOTE.findall(text)


def patch_graphs(html):
    """Apply ``GRAPH_PATCHES`` to asv's scripts in ``html`` (once)."""
    for name, old, new in GRAPH_PATCHES:
        script = html / name
        text = script.read_text(encoding="utf-8")
        if new in text:
            continue
        if old not in text:
            sys.exit(f"{script}: asv's graph code is not where this script expects it")
        script.write_text(text.replace(old, new), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "html",
        nargs="?",
        default=ROOT / ".asv" / "html",
        type=Path,
        help="folder written by asv publish (default: .asv/html)",
    )
    parser.add_argument(
        "--vendor",
        default=ROOT / ".asv" / "vendor",
        type=Path,
        help="where npm installs the libraries (default: .asv/vendor)",
    )
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        sys.exit(f"{args.html}/index.html not found: run `asv publish` first")
    modules = fetch(args.vendor)
    target = args.html / "vendor"
    for spec in PACKAGES:
        name = spec.rsplit("@", 1)[0]
        shutil.copytree(modules / name, target / name, dirs_exist_ok=True)
    unknown = []
    for page in sorted(args.html.glob("*.html")):
        unknown += [f"{page.name}: {url}" for url in rewrite(page)]
    if unknown:
        sys.exit("CDN addresses with no local copy:\n" + "\n".join(unknown))
    patch_graphs(args.html)
    print(f"{args.html} now loads its libraries from {target}; graphs patched")


if __name__ == "__main__":
    main()
