"""Allow ``python -m tabsift.cli``."""

import sys

from tabsift.cli import main

if __name__ == "__main__":
    sys.exit(main())
