"""Grafana Alloy knowledge that does not need a host: its configuration syntax."""
