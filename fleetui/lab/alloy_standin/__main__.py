"""`python -m fleetui.lab.alloy_standin ARGS` is what the lab's /usr/bin/alloy wrapper runs."""

from fleetui.lab.alloy_standin.cli import main

raise SystemExit(main())
