"""The ``tabsift`` command line.

``tabsift --help`` lists the commands; ``tabsift demo`` runs every capability
on shipped and generated data and writes an HTML report. Each command is a
module exposing ``add_parser(subparsers)`` and ``run(args)``, listed in
``SUBCOMMANDS``.
"""

from tabsift.cli._main import SUBCOMMANDS, build_parser, main

__all__ = ["SUBCOMMANDS", "build_parser", "main"]
