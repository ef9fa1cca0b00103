"""Widgets of the app: each renders a view model from `explorer.present`."""
