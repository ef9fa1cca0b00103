"""Subcommands of `layerscope`, one module each, registered in `explorer.cli.COMMANDS`."""
