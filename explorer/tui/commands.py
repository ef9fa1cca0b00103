"""Command palette entries (ctrl+p): layers, modes, views, sorting, find, help, other platforms."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider

from ..present.browse import Sort
from ..present.text import display_name

if TYPE_CHECKING:
    from .app import LayerscopeApp

# The palette lists hits by score, Textual's own commands (Theme, Screenshot…) scoring 0 to 1:
# the app's commands score from here up, so they come first.
RANK = 1.0


def as_data(text: str) -> str:
    """Text from the archive, escaped: the palette reads names and help text as markup."""
    return display_name(text).replace("[", "\\[")


class LayerscopeCommands(Provider):
    """Everything the keys do, by name, plus "go to layer N" and "switch platform to P"."""

    def _commands(self, layers: bool = True) -> list[tuple[str, str, object]]:
        """The commands, with "go to layer N" for every layer unless not `layers`."""
        app: LayerscopeApp = self.app  # type: ignore[assignment]
        commands: list[tuple[str, str, object]] = [
            ("Toggle mode", "changes in this layer / filesystem at this layer", app.action_toggle_mode),
            ("Find file", "search every path", app.action_find),
            ("Show waste", "wasted space, largest first", partial(app.action_view, "waste")),
            ("Show summary", "image summary and config", partial(app.action_view, "summary")),
            ("Show explorer", "layers and files", partial(app.action_view, "explorer")),
            ("Sort by size", "largest first", partial(app.set_sort, Sort.SIZE)),
            ("Sort by name", "directories first", partial(app.set_sort, Sort.NAME)),
            ("Hide unchanged files", "toggle", app.action_toggle_unchanged),
            ("Help", "keys and how layers work", app.action_help),
            ("Tour", "a guided tour of the demo: how layers stack", app.action_tour),
            ("Show stack", "layers as a stack, and the read path of a path", partial(app.action_view, "stack")),
            (
                "Show hints",
                "what to change in the Dockerfile, most bytes saved first",
                partial(app.action_view, "hints"),
            ),
            ("Show largest files", "the largest files of the image or of a layer", partial(app.action_view, "largest")),
            ("Show packages", "installed packages, their files and sizes", partial(app.action_view, "packages")),
            ("Compare with…", "another image, as NEW: shared layers and every difference", app.action_compare_with),
        ]
        if app.compare_tab is not None:
            commands.append(("Show comparison", "the Compare tab", partial(app.action_view, "compare")))
        if app.reopenable:
            commands.append(("Reload", "read the image again (after Esc stopped the loading)", app.action_reload))
        if app.image is not None and app.reopenable:
            for platform in app.summary.platforms:
                if platform != app.image.platform:
                    name = f"Switch platform to {as_data(platform)}"
                    text = f"open the image for {as_data(platform)} instead (from the same archive or registry)"
                    commands.append((name, text, partial(app.switch_platform, platform)))
        if app.image is not None and layers:
            for layer in app.image.layers:
                instruction = as_data(layer.instruction[:80])
                commands.append((f"Go to layer {layer.index}", instruction, partial(app.go_to_layer, layer.index)))
        return commands

    async def discover(self) -> Hits:
        for name, text, callback in self._commands(layers=False):
            yield Hit(RANK, name, callback, help=text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(RANK + score, matcher.highlight(name), callback, help=text)  # type: ignore[arg-type]
