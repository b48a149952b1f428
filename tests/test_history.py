"""benchmarks.history: what ``commits`` reports per kept machine."""

from benchmarks import history

ORDER = ["a1", "a2", "a3", "a4", "a5"]
"""A first-parent history, oldest first; a5 is the tip."""


def test_a_machine_that_stopped_early_does_not_cover_the_tip():
    timed = {"old": {"a1", "a2"}, "new": {"a4"}}
    rows, tip_timed_as = history.coverage(
        ORDER, {"a1", "a3", "a5"}, timed, "a5", lambda c: c == "a4"
    )
    assert [commit for commit, _ in rows] == ["a1", "a2", "a3", "a4", "a5"]
    marks = dict(rows)
    assert marks["a1"] == {"old": "timed", "new": "missing"}
    assert marks["a2"] == {"old": "timed", "new": ""}
    assert marks["a5"] == {"old": "missing", "new": "missing"}
    assert tip_timed_as == {"old": None, "new": "a4"}


def test_the_latest_commit_with_the_tips_package_is_named():
    timed = {"m": {"a2", "a3", "a4"}}
    same = {"a3", "a4"}
    _, tip_timed_as = history.coverage(ORDER, set(), timed, "a5", same.__contains__)
    assert tip_timed_as == {"m": "a4"}


def test_a_timed_tip_is_its_own_coverage_and_off_branch_commits_come_last():
    timed = {"m": {"a5", "side"}}
    rows, tip_timed_as = history.coverage(ORDER, {"a5"}, timed, "a5", lambda c: False)
    assert [commit for commit, _ in rows] == ["a5", "side"]
    assert tip_timed_as == {"m": "a5"}
