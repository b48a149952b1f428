"""``python -m loopnet``: the same command line as ``loopnet``."""

from loopnet.cli import main

raise SystemExit(main())
