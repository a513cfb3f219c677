"""`python -m edgernn.runtime.cli ...` is `edgernn ...`."""

import sys

from .main import main

sys.exit(main())
