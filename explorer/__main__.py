"""`python -m explorer` runs the `layerscope` command."""

import sys

from .cli import main

sys.exit(main())
