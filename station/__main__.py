"""`python -m station` runs the `station` command."""

import sys

from .main import main

sys.exit(main())
