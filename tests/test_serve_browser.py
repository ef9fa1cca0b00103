"""`layerscope serve` end to end in a real headless Chromium (Debian's), driven by Playwright.

The screen is rebuilt from the terminal bytes the page receives on its websocket (with pyte),
so the test reads what xterm.js draws whatever renderer it picks; the PNG is Chromium's own.
The image sits in a folder whose name holds shell characters (the per-session command must
quote it), and serve starts beside a decoy `explorer` folder (the sessions must not run it).
Every request the page makes, and every connection Chromium opens, must stay on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer.commands.serve import is_loopback
from explorer.demo import write_demo

from .served import ROOT, serving

pyte = pytest.importorskip("pyte", reason="pyte is not installed (pip install -e '.[test]')")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium's own services (sign-in, autofill, updates) still try Google's hosts: no name but
    # 127.0.0.1 resolves, so nothing connects off this machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# The README's screenshot is written only on request (`LAYERSCOPE_SCREENSHOTS=1`), so a test run
# leaves the work tree as it found it; otherwise it goes to the test's temporary folder.
SCREENSHOT = ROOT / "screenshots" / "serve.png"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (apt-get install -y --no-install-recommends chromium; .ci/run does it)",
)


class Terminal:
    """The app's screen as the page's terminal shows it, rebuilt from the websocket's frames."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(80, 24)
        self.stream = pyte.ByteStream(self.screen)
        self.sockets: list[str] = []

    def attach(self, ws) -> None:
        self.sockets.append(ws.url)
        size = parse_qs(urlsplit(ws.url).query)
        self.screen.resize(int(size["height"][0]), int(size["width"][0]))
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):  # terminal output; text frames are JSON messages
            self.stream.feed(payload)

    def _sent(self, payload: str | bytes) -> None:
        message = json.loads(payload) if isinstance(payload, str) else None
        if message and message[0] == "resize":
            self.screen.resize(message[1]["height"], message[1]["width"])

    @property
    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait(self, page, *words: str, absent: tuple[str, ...] = (), timeout: float = 15) -> str:
        """Wait until every word is on screen and none of `absent` is."""
        deadline = time.monotonic() + timeout
        while not (all(w in self.text for w in words) and not any(w in self.text for w in absent)):
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {words} without {absent}; the screen:\n{self.text}")
            page.wait_for_timeout(50)
        return self.text


def test_app_in_chromium(tmp_path: Path) -> None:
    folder = tmp_path / "it's a $(touch pwned) & `dir`"
    folder.mkdir()
    image = write_demo(folder / "demo.tar")
    terminal, remote, netlog = Terminal(), [], tmp_path / "netlog.json"

    def only_loopback(route) -> None:
        if is_loopback(urlsplit(route.request.url).hostname or ""):
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    decoy = tmp_path / "explorer"  # a folder of that name where serve starts is not the package
    decoy.mkdir()
    (decoy / "__init__.py").touch()
    (decoy / "__main__.py").write_text("raise SystemExit('the wrong explorer')\n")
    with serving(str(image), cwd=tmp_path) as served, playwright.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"),
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, f"--log-net-log={netlog}"],
                viewport={"width": 1280, "height": 800},
                timeout=30_000,
            )
        except playwright.Error as exc:
            pytest.skip(f"Chromium cannot start here: {str(exc).splitlines()[0]}")
        try:
            browser.set_default_timeout(15_000)
            browser.route("**/*", only_loopback)
            page = browser.new_page()
            page.on("websocket", terminal.attach)
            page.goto(served.url)

            # the layer list, and layer 0's changes in the tree
            terminal.wait(page, "layerscope — demo.tar", "ADD rootfs.tar", "changes in layer 0", "busybox", timeout=30)
            page.focus(".xterm-helper-textarea")

            page.keyboard.press("]")  # next layer: its changes only
            terminal.wait(page, "changes in layer 1", "libpython.so", "APKINDEX", absent=("busybox", "tmp/"))

            page.keyboard.press("m")  # the whole filesystem at that layer
            terminal.wait(page, "filesystem at layer 1", "tmp/", "libpython.so")  # tmp/: unchanged since layer 0

            page.keyboard.press("/")
            terminal.wait(page, "Find a file")
            page.keyboard.type("model.bin")
            terminal.wait(page, "app/model.bin")
            page.keyboard.press("Enter")  # jump there
            screen = terminal.wait(page, "/app/model.bin", absent=("Find a file",))
            assert "model.bin" in screen.split("Files", 1)[1]  # in the tree, not only the status line

            page.wait_for_timeout(300)  # let the terminal finish painting the last frame
            shot = SCREENSHOT if os.environ.get("LAYERSCOPE_SCREENSHOTS") == "1" else tmp_path / "serve.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()

    assert not (folder / "pwned").exists() and not (tmp_path / "pwned").exists()
    assert terminal.sockets and all(is_loopback(urlsplit(u).hostname) for u in terminal.sockets)
    assert remote == [], f"the page asked for resources off this machine: {remote}"
    peers = tcp_peers(netlog)
    assert peers and all(is_loopback(peer.rsplit(":", 1)[0]) for peer in peers), peers


def tcp_peers(netlog: Path) -> set[str]:
    """Every address Chromium opened a TCP connection to, its own background services included."""
    log = json.loads(netlog.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    peers = set()
    for event in log["events"]:
        params = event.get("params", {})
        if names[event["type"]] in ("TCP_CONNECT_ATTEMPT", "TCP_CONNECT"):  # begin and end events
            peers.update(params[key] for key in ("address", "remote_address") if key in params)
    return peers
