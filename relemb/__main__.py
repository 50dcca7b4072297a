"""``python -m relemb``: the relemb command line (also the entry point for ``torchrun -m relemb train``)."""

import sys

from relemb.cli import main

if __name__ == "__main__":
    sys.exit(main())
