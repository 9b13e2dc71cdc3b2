"""``python -m ris_fusion_ros`` is the same as the ``ris-fusion`` command."""

import sys

from .cli import main

sys.exit(main())
