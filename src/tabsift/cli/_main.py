"""The ``tabsift`` command: argument parsing, dispatch and error reporting."""

import argparse
import importlib
import sys
import traceback

# One module per subcommand. Each exposes ``add_parser(subparsers)``, which
# adds and returns its parser, and ``run(args)``, which returns an exit code.
# A new subcommand is a new module and one line here.
SUBCOMMANDS = (
    "tabsift.cli._correct_residuals",
    "tabsift.cli._demo",
    "tabsift.cli._fit_rules",
    "tabsift.cli._fit_tree",
    "tabsift.cli._select_features",
    "tabsift.cli._select_rows",
)

# Errors that describe a problem with the input or the environment: their
# message is enough, a traceback would only distract.
_EXPECTED_ERRORS = (ValueError, TypeError, LookupError, OSError, ImportError, RuntimeError)


def build_parser():
    """Build the ``tabsift`` argument parser with every subcommand.

    Returns
    -------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> from tabsift.cli import build_parser
    >>> args = build_parser().parse_args(["demo", "--quick"])
    >>> args.command, args.quick
    ('demo', True)
    """
    from tabsift import __version__

    parser = argparse.ArgumentParser(
        prog="tabsift",
        description="Explainable machine learning and data selection on tables.",
        epilog="Run 'tabsift COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"tabsift {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback when a command fails"
    )
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    for name in SUBCOMMANDS:
        module = importlib.import_module(name)
        sub = module.add_parser(subparsers)
        # SUPPRESS keeps the subcommand from resetting a --debug given before it.
        sub.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the full traceback when the command fails",
        )
        sub.set_defaults(run=module.run)
    return parser


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _error_message(exc):
    message = str(exc) or type(exc).__name__
    if not isinstance(exc, _EXPECTED_ERRORS):
        message = (
            f"{type(exc).__name__}: {message} (unexpected error; run again with --debug "
            f"to see the traceback)"
        )
    return message


def main(argv=None):
    """Run the ``tabsift`` command line and return its exit code.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; by default ``sys.argv[1:]``.

    Returns
    -------
    code : int
        0 on success, 1 when the command failed, 2 for bad arguments, 130 when
        interrupted with Ctrl-C.

    Examples
    --------
    >>> from tabsift.cli import main
    >>> main(["--version"])
    tabsift ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argument errors
        return _exit_code(exc.code)
    try:
        return _exit_code(args.run(args))
    except KeyboardInterrupt:
        print("tabsift: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tabsift: error: {_error_message(exc)}", file=sys.stderr)
        return 1
    finally:
        # a job's guard on its output folder ends with the job, failed or not
        from tabsift.cli._job_folder import end_job

        end_job()
