"""The embedded lab: real Prometheus, sshd and node_exporter on loopback, one namespace per host."""
