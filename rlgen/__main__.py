import sys

from rlgen.cli import main

sys.exit(main())
