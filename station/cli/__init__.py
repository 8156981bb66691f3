"""The command line: a thin front end over the core procedures, one module a subcommand."""
