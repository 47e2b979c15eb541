"""One module per `fleetui` subcommand: `add_arguments(parser)` and `run(args, settings) -> int`."""
