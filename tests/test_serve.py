"""`layerscope serve`: its arguments, its errors, and what its web server answers (no browser here)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

import pytest

from explorer.cli import _app_parser, main
from explorer.commands.serve import _parser, app_argv, is_loopback

from .served import ROOT, serving


@pytest.fixture(scope="module")
def served():
    with serving("--demo") as it:
        yield it


def _get(url: str, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except HTTPError as exc:
        return exc.code, exc.read()


def test_the_page_asks_nothing_off_this_machine(served) -> None:
    status, body = _get(served.url)
    page = body.decode()
    assert status == 200 and "layerscope — demo" in page
    fetched = re.findall(r"""(?:src|href)="([^"]+)"|url\("?([^")]+)""", page)
    urls = [a or b for a, b in fetched]
    assert urls and all(u.startswith(served.url) for u in urls), urls
    fonts = [u for u in urls if u.endswith(".ttf")]
    assert len(fonts) == 2
    for font in fonts:
        status, data = _get(font)
        assert status == 200 and len(data) > 100_000


def test_the_page_links_back_to_the_address_the_browser_used(served) -> None:
    port = served.url.rsplit(":", 1)[1].rstrip("/")
    status, body = _get(served.url, Host=f"localhost:{port}")
    assert status == 200
    assert f'data-session-websocket-url="ws://localhost:{port}/ws"' in body.decode()


def test_other_sites_cannot_drive_the_app(served) -> None:
    port = served.url.rsplit(":", 1)[1].rstrip("/")
    # a page from another origin opening the websocket (browsers allow cross-origin websockets)
    assert _get(served.url + "ws", Origin="http://example.com")[0] == 403
    # a site whose name resolves to 127.0.0.1 (DNS rebinding): its pages send their own Host
    assert _get(served.url, Host=f"example.com:{port}")[0] == 403
    # the page itself, from the address it was served on
    assert _get(served.url + "static/css/xterm.css", Origin=served.url.rstrip("/"))[0] == 200


def test_ctrl_c_stops_the_server_and_removes_the_demo(tmp_path: Path) -> None:
    with serving("--demo", env={"TMPDIR": str(tmp_path)}) as it:
        assert len(list(tmp_path.glob("layerscope-serve-*/demo.oci.tar"))) == 1  # one for every session
        it.proc.send_signal(signal.SIGINT)
        assert it.proc.wait(15) == 0
    assert list(tmp_path.iterdir()) == []


def test_each_session_opens_the_same_image_with_the_same_options(tmp_path: Path) -> None:
    image = tmp_path / "my image; $(rm -rf x) 'q'.tar"
    argv = [str(image), "--platform", "linux/arm64/v8", "--image", "app:1", "--verify", "--max-entries", "5"]
    child = app_argv(str(image), _parser().parse_args(argv))
    assert child[0] == str(image.resolve())
    opened, served = _app_parser().parse_args(child), _app_parser().parse_args(argv)
    assert vars(opened) == vars(served)
    assert app_argv(str(image), _parser().parse_args([str(image)])) == [str(image)]
    assert app_argv("demo.tar", _parser().parse_args(["--demo", "--verify"])) == [
        str(Path("demo.tar").resolve()),
        "--verify",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["/no/such/image.tar"], "layerscope: /no/such/image.tar: no such file or directory\n"),
        (["-"], "layerscope: serve reads the image again for each browser session: give a file or directory, not -\n"),
        ([str(ROOT / "README.md")], None),
    ],
)
def test_a_bad_image_fails_before_serving(argv: list[str], message: str | None, capsys) -> None:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("layerscope: ") and err.count("\n") == 1
    assert message is None or err == message


@pytest.mark.parametrize(
    "argv",
    [[], ["--demo", "x.tar"], ["--demo", "--port", "0"], ["--demo", "--port", "65536"], ["--demo", "--port", "x"]],
)
def test_bad_arguments(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", *argv])
    assert exit_.value.code == 2
    assert "layerscope serve: error:" in capsys.readouterr().err


def test_listening_beyond_this_machine_warns_and_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "explorer", "serve", "--demo", "--host", "0.0.0.0", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    warning, error = result.stderr.splitlines()
    assert warning == f"layerscope: warning: listening on 0.0.0.0: anyone who can reach port {port} can open the image"
    assert error.startswith(f"layerscope: cannot listen on 0.0.0.0:{port}: ") and "address already in use" in error


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
