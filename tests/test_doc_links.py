"""The Markdown docs' relative links name files and headings that exist.

An anchor must be one that a heading of the target makes, by GitHub's rule:
lower case, punctuation dropped, spaces to hyphens, a repeated heading numbered.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("benchmarks/*.md")]
)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


def prose(path):
    """The file's text without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def anchor(heading):
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor the headings of ``path`` make."""
    seen, made = {}, set()
    for heading in HEADING.findall(prose(path)):
        slug = anchor(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        made.add(slug if count == 0 else f"{slug}-{count}")
    return made


def relative_links(path):
    """(target, anchor) of each link that is not a web address."""
    for target in LINK.findall(prose(path)):
        if re.match(r"^[a-z][a-z+.-]*:", target):
            continue
        file, _, fragment = target.partition("#")
        yield file, fragment


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc):
    broken = []
    for file, fragment in relative_links(doc):
        target = (doc.parent / file).resolve() if file else doc
        if not target.exists():
            broken.append(f"{file}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(f"{file}#{fragment}: no such heading")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_anchor_rule():
    assert anchor("Compile time: a user's first run") == (
        "compile-time-a-users-first-run"
    )
    assert anchor("The figures behind `loopnet/_jit.py`") == (
        "the-figures-behind-loopnet_jitpy"
    )
