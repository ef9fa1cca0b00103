"""The terminal app, `LayerscopeApp`: the CLI, the tests and the screenshot script all start it."""
