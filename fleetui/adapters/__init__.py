"""IO adapters (Prometheus, SSH, target files). No Textual."""
