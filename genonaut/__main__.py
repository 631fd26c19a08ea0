"""The image's neutral default command: say which roles exist and exit."""

import sys

from genonaut import __doc__ as DOC


def main() -> int:
    sys.stdout.write((DOC or "") + "\nThis image runs one role per container; pass a command.\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
