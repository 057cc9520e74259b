"""`python -m assay.eval.bench` is `assay bench`."""

import sys

from .command import main

sys.exit(main())
