"""The terminal app: `make_app` builds it for the CLI, the tests and the screenshot script."""
