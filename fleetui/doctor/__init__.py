"""`fleetui doctor`: the troubleshooting checklist an operator runs by hand, in order, read-only.

SSH → Alloy installed → service running → /-/ready → config loaded → exporter serves metrics → Prometheus
reachable → remote_write without errors → series in Prometheus → labels consistent → clock. Each check says
ok / warn / fail / skipped with the evidence it saw and how to fix what it found; the first failure is where
to look. `model` holds the values, `evidence` parses what is read (Alloy's metrics, logs, config, env file),
`checks` are the pure judgments (both unit-tested on real formats), `probe` gathers the evidence over one SSH
session and the Prometheus API, `fleet` runs many hosts with bounded concurrency.
Nothing here changes a host: every command is a read (`--version`, `is-active`, GETs, one empty POST to the
remote_write URL that Prometheus rejects without storing anything).
"""
