"""The `drgaudit` command line: a thin layer over the library, one module per command group."""

from __future__ import annotations


def main() -> None:
    """Entry point of the `drgaudit` console script."""
    from drgaudit.cli.root import app

    app()
