"""The CLI's rich consoles (stdout for results, stderr for errors), shared by every sub-command module."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["console", "err_console"]

# Tables are wider than the 80 columns rich assumes when output is piped (CI logs, `make demo | tee`).
console = Console() if sys.stdout.isatty() else Console(width=150)
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=150)
