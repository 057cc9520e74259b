"""`python -m assay.eval.bench` is `assay bench`."""

import sys

from . import main

sys.exit(main())
