"""Print the oldest runtime dependencies pyproject.toml allows, one pin a line.

Each ``name>=version`` of ``[project] dependencies`` becomes ``name==version``,
its environment marker kept: what the floor lane of ``.ci/run`` installs to
prove the floors true.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def floor_pins(dependencies):
    """``name==version`` (with its marker) for each ``name>=version`` requirement.

    >>> floor_pins(["numpy>=1.26", "tbb>=2021.6; sys_platform == 'linux'"])
    ['numpy==1.26', "tbb==2021.6; sys_platform == 'linux'"]
    """
    pins = []
    for requirement in dependencies:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([^;,\s]+)\s*(;.*)?", requirement)
        if match is None:
            raise ValueError(f"no single >= floor in {requirement!r}")
        name, version, marker = match.groups()
        pins.append(f"{name}=={version}{marker or ''}")
    return pins


if __name__ == "__main__":
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    print("\n".join(floor_pins(project["dependencies"])))
