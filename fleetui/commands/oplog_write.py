"""The CLI's entries in the local operation log: `fleetui enroll/retire/fix` from this machine are recorded like
the console's runs, so `fleetui history` answers "who ran what from here" whichever front end ran it.

A log that cannot be written is said on stderr, never fatal: the operation itself has already happened.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleetui.deploy.events import OperationResult


def log_results(results: Iterable[OperationResult | None], *, verb: str) -> None:
    """Append one record per finished operation (plans are not recorded: they change nothing)."""
    from fleetui.adapters.oplog import OpLog, record_of

    oplog = OpLog()
    for result in results:
        if result is None:
            continue
        try:
            oplog.append(record_of(result))
        except OSError as e:
            print(f"fleetui {verb}: could not write the operation log {oplog.path}: {e}", file=sys.stderr)
            return
