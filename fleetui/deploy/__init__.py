"""The deploy engine: operations (enroll, retire) as ordered steps, run by one runner that emits events,
rolls back and reports what the host really is. No Textual."""
