"""The version of ``slt`` recorded in every result's attributes."""

import importlib.metadata

__all__ = ["UNKNOWN", "__version__", "installed_version"]

UNKNOWN = "0+unknown"
"""The version of a package imported from a source tree that was never installed."""


def installed_version(package: str = "slt") -> str:
    """``package``'s installed version, or :data:`UNKNOWN` when it is not installed.

    ``slt`` runs uninstalled from a checkout on ``PYTHONPATH`` (on a lent GPU machine, say,
    whose image has JAX but not ``slt``); its results then record :data:`UNKNOWN`.

    Examples
    --------
    >>> installed_version("no-such-package-here")
    '0+unknown'
    """
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


__version__ = installed_version()
