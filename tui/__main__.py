"""``python -m naptha_tui.tui`` and the ``naptha-tui`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line (the panel when no command is given)."""
    from naptha_tui.tui.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
