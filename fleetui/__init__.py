"""fleetui: a terminal console for a Prometheus + Grafana Alloy fleet.

Nothing is imported here on purpose: `fleetui status --json` must not pay for Textual.
"""

__version__ = "0.1.0"
