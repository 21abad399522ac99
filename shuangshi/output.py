"""What every command prints through: the two rich consoles, JSON output and the error exit."""

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; keep lines whole there.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` (plain text, escaped here) in red on stderr and exit with ``code``."""
    err.print(f"[bold red]{escape(message)}[/]", highlight=False)
    raise typer.Exit(code)
