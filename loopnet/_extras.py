"""What installs loopnet's optional parts, said the same way by every ImportError.

The project's distribution is ``loopnet-backprop`` (``import loopnet``): the
package named ``loopnet`` on PyPI is another project. Until loopnet-backprop is
published, an extra installs from a clone of the repository.
"""

DISTRIBUTION = "loopnet-backprop"
"""The distribution name in pyproject.toml."""


def install_hint(extra):
    """The command that installs ``extra`` (a key of pyproject's optional deps).

    Examples
    --------
    >>> install_hint("examples").split(" in a clone")[0]
    'pip install -e ".[examples]"'
    """
    return (
        f'pip install -e ".[{extra}]" in a clone of loopnet, or pip install'
        f' "{DISTRIBUTION}[{extra}]" once it is published (PyPI\'s "loopnet" is'
        " another project)"
    )


def missing_extra(needed_by, package, extra, error):
    """The ImportError to raise when ``package`` could not be imported.

    Parameters
    ----------
    needed_by : str
        What needs it: a module (``"loopnet.sklearn"``) or a function.
    package : str
        The package's name as pip knows it (``"scikit-learn"``).
    extra : str
        The optional dependency group of pyproject.toml that installs it.
    error : ImportError
        The failed import, quoted: an installed package too old for a name is
        an ImportError too.

    Returns
    -------
    ImportError
        Its message names ``needed_by``, ``package`` and the install command.
    """
    return ImportError(f"{needed_by} needs {package}: {install_hint(extra)} ({error})")
