"""`python -m fleetui` is the same as the `fleetui` command."""

from fleetui.cli import main

raise SystemExit(main())
