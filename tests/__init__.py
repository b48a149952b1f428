"""loopnet's test suite: a package, so that its shared helpers import by name.

Test modules import them as ``from tests.helpers import TOL, ...``;
``tests/conftest.py`` keeps only what pytest must find there (fixtures, hooks,
the hypothesis profile).
"""
