"""The Textual front end: a thin face over the same core procedures as the CLI."""
