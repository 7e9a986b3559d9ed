"""`python -m sidecar` and the `sidecar` command. Ctrl-C while it starts, before a command handles signals
itself, stops it as it would later: one line and EXIT_STOPPED, no traceback."""

import sys

from .exits import EXIT_STOPPED, STOPPED


def run() -> int:
    try:
        from .cli import main
    except KeyboardInterrupt:
        print(f"sidecar: {STOPPED}", file=sys.stderr)
        return EXIT_STOPPED
    return main()


if __name__ == "__main__":
    sys.exit(run())
