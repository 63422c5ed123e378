"""``python -m sweep.cli``."""

from sweep.cli.main import main

raise SystemExit(main())
