"""``python -m relemb.data {build-semeval2012,list}`` (the same as ``relemb data ...``)."""

import sys

from relemb.data.cli import main

sys.exit(main())
