"""The `station` command: the CLI, and the TUI when no command is given (or for the demo).

The only module that knows both front ends: the CLI and the TUI never import
each other, so the CLI gets the TUI's opener from here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def open_tui(home: Path, **kw: Any) -> None:
    """Open the Textual app in `home` (imported only now: the CLI runs without Textual)."""
    from .tui.app import run_tui

    run_tui(home, **kw)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `station` console script; returns the exit status."""
    from .cli.main import main as cli_main

    return cli_main(argv, open_tui=open_tui)


if __name__ == "__main__":
    sys.exit(main())
