"""Images read straight from a registry: a real one (Debian's docker-registry) open, behind Basic
auth and behind Bearer tokens, images pushed with skopeo; the figures must equal the archive's."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from explorer.analysis import dive_compat
from explorer.analysis.image import Image as Model
from explorer.analysis.image import load
from explorer.archive import blobfetch, layercache, registry
from explorer.archive.blobfetch import RemoteBlob
from explorer.archive.errors import CorruptBlob, ImageError
from explorer.archive.options import OpenOptions
from explorer.archive.pool import ScanPool
from explorer.archive.registry import (
    Credentials,
    Reference,
    Settings,
    docker_credentials,
    parse_challenge,
    parse_reference,
)
from explorer.present.report import report_dict
from tests.conftest import DIVE, REAL, needs_shared
from tests.imagebuilder import F, Image, Layer, write_oci
from tests.registry_server import PASSWORD, USER, running, self_signed

ROOT = Path(__file__).resolve().parents[1]
MISSING = [tool for tool in ("docker-registry", "skopeo", "htpasswd") if shutil.which(tool) is None]
needs_registry = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)} (apt)")
PUSHED = {  # repository:tag -> (skopeo source, archive to compare with, copy every platform)
    "bloat:gzip": ("oci-archive:{REAL}/small-bloat.oci-gzip.tar", "{REAL}/small-bloat.oci-gzip.tar", False),
    "bloat:zstd": ("oci-archive:{REAL}/small-bloat.oci-zstd.tar", "{REAL}/small-bloat.oci-zstd.tar", False),
    "multi:latest": ("oci-archive:{REAL}/multi.oci-index.tar", "{REAL}/multi.oci-index.tar", True),
    "dive/test:docker": ("docker-archive:{DIVE}/test-docker-image.tar", "{DIVE}/test-docker-image.tar", False),
}


def _comparable(image: Model, dive: dive_compat.DiveCompat | None = None) -> dict:
    """The report without what names where the image came from (a legacy `docker save` has no
    digests; skopeo gives it docker media types on the way to the registry)."""
    data = report_dict(image, None, dive)
    for key in ("path", "names", "manifest_digest", "layout", "config_digest"):
        data["image"].pop(key)
    for layer in data["layers"]:
        layer.pop("media_type")
        layer.pop("digest")
    return data


def _load_with_dive(path: str) -> tuple[Model, dive_compat.DiveCompat]:
    """The image analysed, and dive's figures for it (they enter the report)."""
    image = Model.open(path)
    dive = dive_compat.watch(image)
    image.analyse()
    return image, dive.result()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test starts anonymous and secure, with no cached token."""
    registry.configure(Settings())
    registry._tokens.clear()
    yield
    registry.configure(Settings())
    registry._tokens.clear()


@pytest.fixture(scope="session")
def docker_config(tmp_path_factory) -> Iterator[Path]:
    """An empty docker config, so the credentials of the machine running the tests stay out."""
    folder = tmp_path_factory.mktemp("docker-config")
    (folder / "config.json").write_text("{}")
    old = os.environ.get("DOCKER_CONFIG")
    os.environ["DOCKER_CONFIG"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("DOCKER_CONFIG", None)
    else:
        os.environ["DOCKER_CONFIG"] = old


def _registry(tmp_path_factory, mode: str, images: list[str]) -> Iterator:
    with running(tmp_path_factory.mktemp(f"registry-{mode}"), mode) as reg:
        for name in images:
            source, _, every = PUSHED[name]
            reg.push(source.format(REAL=REAL, DIVE=DIVE), name, all_platforms=every)
        yield reg


@pytest.fixture(scope="session")
def open_registry(tmp_path_factory, docker_config):
    if MISSING or not REAL.is_dir():
        pytest.skip(f"needs {', '.join(MISSING) or 'the shared test data'}")
    yield from _registry(tmp_path_factory, "open", list(PUSHED))


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory, docker_config):
    if MISSING or not REAL.is_dir():
        pytest.skip(f"needs {', '.join(MISSING) or 'the shared test data'}")
    yield from _registry(tmp_path_factory, "basic", ["bloat:gzip"])


@pytest.fixture(scope="session")
def bearer_registry(tmp_path_factory, docker_config):
    if MISSING or not REAL.is_dir():
        pytest.skip(f"needs {', '.join(MISSING) or 'the shared test data'}")
    pytest.importorskip("cryptography", reason="the test token server signs with cryptography")
    yield from _registry(tmp_path_factory, "bearer", ["bloat:zstd", "multi:latest"])


def layerscope(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


# ---- references, challenges, credentials --------------------------------------------------------


def test_references(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    digest = "sha256:" + "ab" * 32
    assert parse_reference("registry://127.0.0.1:5000/team/app:1.2") == Reference(
        "127.0.0.1:5000", "team/app", "1.2", None
    )
    assert parse_reference(f"registry://ghcr.io/o/r@{digest}") == Reference("ghcr.io", "o/r", None, digest)
    assert parse_reference("registry://localhost/app") == Reference("localhost", "app", None, None)
    assert parse_reference("quay.io/org/img:tag") == Reference("quay.io", "org/img", "tag", None)
    assert parse_reference("library/alpine") == Reference("docker.io", "library/alpine", None, None)
    assert parse_reference("alpine:3.20") == Reference("docker.io", "library/alpine", "3.20", None)
    assert parse_reference("docker.io/alpine") == Reference("docker.io", "library/alpine", None, None)
    assert parse_reference("docker.io/alpine").api_host == "registry-1.docker.io"
    assert str(parse_reference("registry://h.io/a/b")) == "h.io/a/b:latest"
    # local paths, archive names and bare words are files, never an image on Docker Hub
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "app:1").write_bytes(b"")
    for text in ("team/app:1", "image.tar", "out/image.tar.gz", "alpine", "-", "some/Dir/x"):
        assert parse_reference(text) is None, text
    for bad in ("registry://alpine", "registry://h.io/", "registry://h.io/UPPER", "registry://h.io/a:b:c"):
        with pytest.raises(ImageError):
            parse_reference(bad)


def test_challenges():
    assert parse_challenge(
        'Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull"'
    ) == (
        "bearer",
        {"realm": "https://auth.io/token", "service": "registry.io", "scope": "repository:a/b:pull"},
    )
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge("") == ("", {})


def test_docker_config_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    config = tmp_path / "config.json"
    auth = base64.b64encode(b"alice:pa:ss").decode()
    config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}, "r.io:5000": {}}}))
    assert docker_credentials("docker.io") == Credentials("alice", "pa:ss")
    assert docker_credentials("r.io:5000") is None
    assert docker_credentials("other.io") is None
    # a credential helper (a real program on PATH, as docker-credential-pass would be)
    helper = tmp_path / "bin" / "docker-credential-testhelper"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\nread server\n"
        'if [ "$server" = "ghcr.io" ]; then echo \'{"Username":"bob","Secret":"tok"}\'; '
        "else echo 'credentials not found in native keychain'; exit 1; fi\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config.write_text(json.dumps({"credHelpers": {"ghcr.io": "testhelper"}, "credsStore": "testhelper"}))
    assert docker_credentials("ghcr.io") == Credentials("bob", "tok")
    assert docker_credentials("quay.io") is None  # the store has none for it
    config.write_text(json.dumps({"credsStore": "absent"}))
    with pytest.raises(ImageError, match="docker-credential-absent"):
        docker_credentials("quay.io")


def test_plain_http_only_for_loopback_or_insecure():
    client = registry.RegistryClient.__new__(registry.RegistryClient)
    client.verify_tls = True
    assert client._base_url("registry.example", insecure=False) == "https://registry.example"
    assert registry._is_loopback("127.0.0.1:5000") and registry._is_loopback("[::1]:80")
    assert registry._is_loopback("localhost:5000") and not registry._is_loopback("10.0.0.1:5000")


# ---- HTTP behaviour against small servers of the test ------------------------------------------------


class _Recorder:
    """A loopback HTTP server answering from `reply(handler)`; remembers the requests' headers."""

    def __init__(self, reply) -> None:
        self.seen: list[tuple[str, dict]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.seen.append((self.path, dict(self.headers)))
                reply(self)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                owner.seen.append((self.path, {**self.headers, "body": body}))
                reply(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def servers():
    started: list[_Recorder] = []

    def start(reply) -> _Recorder:
        started.append(_Recorder(reply))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def _send(handler: BaseHTTPRequestHandler, code: int, body: bytes = b"", headers: dict | None = None) -> None:
    handler.send_response(code)
    for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def test_authorization_is_dropped_on_a_redirect_to_another_host(servers):
    blob = b"layer bytes"
    storage = servers(lambda h: _send(h, 200, blob))
    front = servers(lambda h: _send(h, 307, headers={"Location": f"http://{storage.host}/bucket/x?sig=1"}))
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    remote = RemoteBlob(f"http://{front.host}/v2/a/blobs/{digest}", "Bearer secret-token", True, digest, len(blob))
    with remote.open("blob") as stream:
        assert stream.read(100) == blob
    assert front.seen[0][1].get("Authorization") == "Bearer secret-token"
    assert storage.seen[0][0] == "/bucket/x?sig=1" and "Authorization" not in storage.seen[0][1]
    # the same host keeps it
    same = servers(
        lambda h: _send(h, 200, blob) if "moved" in h.path else _send(h, 302, headers={"Location": "/moved"})
    )
    with RemoteBlob(f"http://{same.host}/v2/a/blobs/x", "Basic abc", True, digest, len(blob)).open("b") as stream:
        stream.read(100)
    assert same.seen[1][1].get("Authorization") == "Basic abc"


def test_the_environments_proxy_and_its_credentials(servers, monkeypatch):
    """`http_proxy` (with credentials in it) is asked for the blob's absolute URL, `no_proxy`
    names hosts asked directly."""
    blob = b"layer bytes"
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    proxy = servers(lambda h: _send(h, 200, blob))
    direct = servers(lambda h: _send(h, 200, blob))
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://us%40er:p%3Ass@{proxy.host}")
    url = f"http://registry.invalid/v2/a/blobs/{digest}"
    with RemoteBlob(url, "Bearer t", True, digest, len(blob)).open("blob") as stream:
        assert stream.read(100) == blob
    path, headers = proxy.seen[0]
    assert path == url and headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert headers["Authorization"] == "Bearer t"
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with RemoteBlob(f"http://{direct.host}/v2/a/blobs/{digest}", None, True, digest, len(blob)).open("b") as stream:
        assert stream.read(100) == blob
    assert len(proxy.seen) == 1 and direct.seen[0][0] == f"/v2/a/blobs/{digest}"
    assert "Proxy-Authorization" not in direct.seen[0][1]


def test_blob_digest_and_size_are_checked_as_it_streams(servers):
    blob = b"x" * 5000
    server = servers(lambda h: _send(h, 200, blob))
    good = "sha256:" + hashlib.sha256(blob).hexdigest()
    url = f"http://{server.host}/v2/a/blobs/{good}"
    with RemoteBlob(url, None, True, good, 5000).open("blob") as stream:
        stream.read(10)  # the rest is read and hashed on the way out
    wrong = "sha256:" + "0" * 64
    with (
        pytest.raises(CorruptBlob, match="does not match its digest"),
        RemoteBlob(url, None, True, wrong, 5000).open("blob") as stream,
    ):
        stream.read(10)
    with pytest.raises(CorruptBlob, match="truncated"), RemoteBlob(url, None, True, good, 6000).open("b") as stream:
        stream.read(10)
    with pytest.raises(CorruptBlob, match="more than"), RemoteBlob(url, None, True, good, 4000).open("b") as stream:
        stream.read(10)


@pytest.mark.parametrize(
    ("code", "headers", "message"),
    [
        (401, {}, "authentication required (401 Unauthorized)"),
        (403, {}, "access denied (403 Forbidden)"),
        (404, {}, "not found (404)"),
        (429, {"Retry-After": "30"}, "rate limited by the registry (429 Too Many Requests); retry after 30 s"),
        (500, {}, "the registry answered 500"),
    ],
)
def test_one_line_errors(servers, docker_config, code, headers, message):
    def reply(h):
        if h.path == "/v2/":
            _send(h, 200, b"{}", {"Docker-Distribution-API-Version": "registry/2.0"})
        else:
            _send(h, code, b'{"errors":[]}', headers)

    server = servers(reply)
    with pytest.raises(ImageError) as caught:
        registry.open_registry(f"registry://{server.host}/a/b:1")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"{server.host}/a/b:1: ")


def test_timeouts_and_refused_connections(servers, monkeypatch, docker_config):
    monkeypatch.setattr(blobfetch, "TIMEOUT", (2.0, 0.3))
    release = threading.Event()
    server = servers(lambda h: release.wait(5))
    try:
        with pytest.raises(ImageError, match="did not answer within 0.3 s"):
            registry.open_registry(f"registry://{server.host}/a:1")
    finally:
        release.set()
    port = server.server.server_port
    server.stop()
    with pytest.raises(ImageError, match="cannot connect"):
        registry.open_registry(f"registry://127.0.0.1:{port}/a:1")


def test_insecure_falls_back_to_http_only_where_the_port_answers_in_plain_http(servers, monkeypatch, docker_config):
    """--insecure on a host that is not this machine (127.0.0.1 taken for one): HTTP where the
    TLS hello got a plain-HTTP answer, or, with no port named, where nothing listens on 443;
    a slow answer or a connection dropped at the hello is the one-line error, not HTTP."""
    monkeypatch.setattr(registry, "_is_loopback", lambda host: False)
    monkeypatch.setattr(blobfetch, "TIMEOUT", (0.3, 5.0))  # the TLS hello is part of connecting
    registry.configure(Settings(insecure=True))

    def base(host: str) -> str:
        return registry.RegistryClient(registry.parse_reference(f"registry://{host}/a:1")).base

    try:
        plain = servers(lambda h: _send(h, 200, b"{}", {"Docker-Distribution-API-Version": "registry/2.0"}))
        assert base(plain.host) == f"http://{plain.host}"
        if socket.socket().connect_ex(("127.0.0.1", 443)):  # nothing on 443: plain HTTP is port 80's
            assert base("127.0.0.1") == "http://127.0.0.1"
        silent = socket.create_server(("127.0.0.1", 0))  # connects (the backlog), never answers
        dropping = socket.create_server(("127.0.0.1", 0))
        closer = threading.Thread(target=lambda: dropping.accept()[0].close(), daemon=True)
        closer.start()
        try:
            for listener, message in (
                (silent, "did not answer within 0.3 s"),
                (dropping, "(gave no HTTP answer|TLS failed)"),
            ):
                host = f"127.0.0.1:{listener.getsockname()[1]}"
                with pytest.raises(ImageError, match=f"^{host}/a:1: ({host} )?{message}") as caught:
                    base(host)
                assert "\n" not in str(caught.value)
        finally:
            silent.close()
            dropping.close()
        refused = socket.create_server(("127.0.0.1", 0))
        port = refused.getsockname()[1]
        refused.close()
        with pytest.raises(ImageError, match="cannot connect"):  # a port named: its HTTP is no other server
            base(f"127.0.0.1:{port}")
    finally:
        registry.configure(Settings())


def test_a_port_that_does_not_speak_http(docker_config):
    """A port that answers with something else than HTTP is a one-line error, not a traceback
    (a loopback one is then asked over HTTPS, which fails the same way)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with contextlib.suppress(OSError):  # until the listener is closed
            while True:
                conn, _ = listener.accept()
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
                conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(ImageError, match=f"^blob: {host} gave no HTTP answer"):
            RemoteBlob(f"http://{host}/v2/a/blobs/x", None, True, "sha256:" + "0" * 64, 1).open("blob")
        with pytest.raises(ImageError, match=f"^{host}/a:1: TLS failed with {host} ") as caught:
            registry.open_registry(f"registry://{host}/a:1")
        assert "\n" not in str(caught.value)
    finally:
        listener.close()


def test_a_loopback_port_that_speaks_only_tls_is_asked_over_https(tmp_path, docker_config, monkeypatch):
    """A TLS server that drops a plain-HTTP request (Go's answers it 400) is asked over HTTPS."""
    import ssl

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = self_signed(key, "127.0.0.1")
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(pem, pkcs8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            _send(self, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

        def log_message(self, *args: object) -> None:
            pass

    class TLSServer(ThreadingHTTPServer):
        def get_request(self):
            conn, address = self.socket.accept()
            try:
                return context.wrap_socket(conn, server_side=True), address
            except (ssl.SSLError, OSError):  # a plain-HTTP request: dropped
                conn.close()
                raise

    server = TLSServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_port}"
        with pytest.raises(ImageError, match="TLS failed .* certificate verify failed"):
            registry.open_registry(f"registry://{host}/a:1")
        registry.configure(Settings(insecure=True))
        with pytest.raises(ImageError, match="not found \\(404\\): MANIFEST_UNKNOWN"):
            registry.open_registry(f"registry://{host}/a:1")
    finally:
        registry.configure(Settings())
        server.shutdown()
        server.server_close()


# ---- a real registry ------------------------------------------------------------------------------


@needs_shared
@needs_registry
@pytest.mark.parametrize("name", ["bloat:gzip", "bloat:zstd", "dive/test:docker"])
def test_figures_equal_the_archives(open_registry, name):
    archive = PUSHED[name][1].format(REAL=REAL, DIVE=DIVE)
    remote, remote_dive = _load_with_dive(f"registry://{open_registry.host}/{name}")
    local, local_dive = _load_with_dive(archive)
    try:
        assert _comparable(remote, remote_dive) == _comparable(local, local_dive)
        assert remote.names == [f"{open_registry.host}/{name}"]
        if name == "bloat:zstd":
            assert {layer.scan.compression for layer in remote.layers} == {"zstd"}
    finally:
        remote.close()
        local.close()


@needs_shared
@needs_registry
@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64", "linux/arm/v7"])
def test_multi_platform_index(open_registry, platform):
    remote = load(f"{open_registry.host}/multi:latest", OpenOptions(platform=platform))
    local = load(str(REAL / "multi.oci-index.tar"), OpenOptions(platform=platform))
    try:
        assert _comparable(remote) == _comparable(local)
        assert remote.platform.startswith(platform)
    finally:
        remote.close()
        local.close()
    by_digest = f"{open_registry.host}/multi@{remote.ref.manifest_digest}"
    with pytest.raises(ImageError, match="several platforms|platform"):
        load(f"{open_registry.host}/multi:latest", OpenOptions(platform="linux/s390x"))
    single = load(by_digest)  # a platform's own manifest, by digest
    try:
        assert single.platform.startswith(platform) and single.ref.manifest_digest == remote.ref.manifest_digest
    finally:
        single.close()


@needs_shared
@needs_registry
def test_cli_report_and_unknown_tags(open_registry):
    proc = layerscope("report", f"registry://{open_registry.host}/bloat:gzip", "--json")
    assert proc.returncode == 0, proc.stderr
    local = layerscope("report", str(REAL / "small-bloat.oci-gzip.tar"), "--json")
    remote_data, local_data = json.loads(proc.stdout), json.loads(local.stdout)
    assert remote_data["summary"] == local_data["summary"] and remote_data["waste"] == local_data["waste"]
    proc = layerscope("report", f"{open_registry.host}/bloat:nope")
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1
    assert f"{open_registry.host}/bloat:nope: not found (404): MANIFEST_UNKNOWN" in proc.stderr.decode()
    proc = layerscope("ci", f"{open_registry.host}/bloat:gzip", "--lowest-efficiency", "0.95")
    assert proc.returncode == 1 and b"FAIL  lowest-efficiency" in proc.stdout


def _corrupt_copy(reg, tmp_path: Path, name: str, damage) -> str:
    """Push an image of its own, then damage its layer blob in the registry's storage."""
    image = Image(layers=[Layer([F(f"{name}/data", os.urandom(4096))], compression="none")])
    write_oci(image, tmp_path / f"{name}.tar")
    reg.push(f"oci-archive:{tmp_path / name}.tar", f"{name}:1")
    remote = registry.open_registry(f"{reg.host}/{name}:1")
    manifest = json.loads(remote.read_bytes(next(p for p, k in remote._kind.items() if k == "manifest")))
    remote.close()
    digest = manifest["layers"][0]["digest"].split(":")[1]
    data = next(Path(reg_root(reg)).rglob(f"blobs/sha256/{digest[:2]}/{digest}/data"))
    data.chmod(0o644)
    damage(data)
    return f"{reg.host}/{name}:1"


def reg_root(reg) -> Path:
    return Path(reg._log.name).parent / "data"


@needs_shared
@needs_registry
def test_a_corrupt_blob_in_the_registry_is_caught(open_registry, tmp_path):
    def flip(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[1000] ^= 0xFF
        path.write_bytes(bytes(data))

    ref = _corrupt_copy(open_registry, tmp_path, "corrupt", flip)
    with pytest.raises(CorruptBlob, match="does not match its digest"):
        load(ref)
    ref = _corrupt_copy(open_registry, tmp_path, "short", lambda p: p.write_bytes(p.read_bytes()[:3000]))
    with pytest.raises(ImageError):
        load(ref)


@needs_shared
@needs_registry
def test_large_images_are_scanned_by_workers_that_fetch_their_own_layers(open_registry, tmp_path):
    """Above 16 MB the layers go to worker processes, each streaming its blob from the registry."""
    random = os.urandom(9 << 20)
    image = Image(
        layers=[
            Layer([F("a/big", random), F("a/small", b"1" * 100)]),
            Layer([F("a/big", random[::-1])], compression="zstd"),
            Layer([F("b/plain", random[: 3 << 20])], compression="none"),
        ]
    )
    write_oci(image, tmp_path / "big.tar")
    open_registry.push(f"oci-archive:{tmp_path / 'big.tar'}", "big:1")
    remote = Model.open(f"{open_registry.host}/big:1", pool=ScanPool(2))
    try:
        assert all(isinstance(remote.source.locate(layer.ref.blob), RemoteBlob) for layer in remote.layers)
        remote.analyse()
        local = load(str(tmp_path / "big.tar"))
        assert _comparable(remote) == _comparable(local)
        local.close()
    finally:
        remote.close()


@needs_shared
@needs_registry
def test_basic_auth(basic_registry):
    ref = f"registry://{basic_registry.host}/bloat:gzip"
    proc = layerscope("report", ref)
    assert proc.returncode == 2 and "authentication required (401 Unauthorized)" in proc.stderr.decode()
    proc = layerscope("report", ref, "--username", USER, "--password-stdin", stdin=b"wrong\n")
    assert proc.returncode == 2 and "refused the credentials" in proc.stderr.decode()
    proc = layerscope("report", ref, "--json", "--username", USER, "--password-stdin", stdin=f"{PASSWORD}\n".encode())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["wasted_bytes"] == 189972
    archive = str(REAL / "small-bloat.oci-gzip.tar")
    proc = layerscope("diff", archive, ref, "--username", USER, "--password-stdin", stdin=f"{PASSWORD}\n".encode())
    assert proc.returncode == 0 and b"identical filesystems" in proc.stdout, proc.stderr
    proc = layerscope("diff", "-", ref, "--username", USER, "--password-stdin", stdin=f"{PASSWORD}\n".encode())
    assert proc.returncode == 2 and "cannot share it" in proc.stderr.decode()


@needs_shared
@needs_registry
def test_basic_auth_from_docker_config(basic_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {f"http://{basic_registry.host}": {"auth": auth}}}))
    image = load(f"{basic_registry.host}/bloat:gzip")
    assert image.waste.wasted == 189972
    image.close()


@needs_shared
@needs_registry
def test_bearer_tokens_per_repository(bearer_registry):
    tokens = bearer_registry.token_server
    registry.configure(Settings(Credentials(USER, PASSWORD)))
    asked = len(tokens.scopes)
    first = load(f"{bearer_registry.host}/bloat:zstd")
    again = load(f"{bearer_registry.host}/bloat:zstd")  # the cached token serves
    other = load(f"{bearer_registry.host}/multi:latest", OpenOptions(platform="linux/arm/v7"))  # its own token
    for image in (first, again, other):
        image.close()
    assert tokens.scopes[asked:] == ["repository:bloat:pull", "repository:multi:pull"]
    assert first.waste.wasted == 189972
    registry.configure(Settings(Credentials(USER, "wrong")))
    registry._tokens.clear()
    with pytest.raises(ImageError, match="refused the credentials"):
        load(f"{bearer_registry.host}/bloat:zstd")
    registry.configure(Settings())
    with pytest.raises(ImageError, match="authentication required"):
        load(f"{bearer_registry.host}/bloat:zstd")


def test_http_is_imported_only_for_registries_and_lightly(tmp_path, servers):
    """Local archives load no HTTP code at all; a blob fetch (what a worker does) loads the
    standard library's `http.client`, no client library, and `urllib.request` (for proxies)
    only when the environment names a proxy."""
    path = write_oci(Image([Layer([F("a", b"1")])]), tmp_path / "img.tar")
    blob = b"layer"
    server = servers(lambda h: _send(h, 200, blob))
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    code = """
import contextlib, io, sys
from explorer.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main(["report", sys.argv[1], "--json"]) == 0
print(*[m in sys.modules for m in ("http.client", "explorer.archive.registry")])
from explorer.archive.blobfetch import RemoteBlob
with RemoteBlob(sys.argv[2], None, True, sys.argv[3], 5).open("blob") as stream:
    stream.read()
print(*[m in sys.modules for m in ("http.client", "requests", "urllib3", "urllib.request")])
"""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    url = f"http://{server.host}/v2/a/blobs/{digest}"
    for proxy, loaded in (({}, "False"), ({"no_proxy": "*"}, "True")):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path), url, digest],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            env={**env, **proxy},
        )
        assert proc.stdout.split() == ["False", "False", "True", "False", "False", loaded], proc.stderr


@needs_shared
@needs_registry
def test_cat_and_diff_from_a_registry(open_registry):
    """A registry's layer blobs can be fetched again: `cat` streams one; `diff` against the
    archive it was pushed from finds the same filesystem."""
    remote = f"registry://{open_registry.host}/bloat:zstd"
    proc = layerscope("cat", remote, "/bloat/overwrite-me.bin", "--layer", "9")
    assert proc.returncode == 0 and len(proc.stdout) == 20000, proc.stderr
    proc = layerscope("diff", str(REAL / "small-bloat.docker-archive.tar"), remote)
    assert proc.returncode == 0 and b"identical filesystems (15 layers shared)" in proc.stdout, proc.stderr


# ---- the layer cache: shared layers are not downloaded ---------------------------------------------


class CountingProxy:
    """A TCP relay to the registry on a loopback port of its own, counting the bytes the
    registry sends: what a client downloads, measured on the wire."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rsplit(":", 1)
        self.received = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if count:
                    with self._lock:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def take(self) -> int:
        """Bytes received since the last call."""
        time.sleep(0.2)  # the relay threads pass on what is in flight
        with self._lock:
            received, self.received = self.received, 0
        return received

    def stop(self) -> None:
        self._server.close()


@needs_shared
@needs_registry
def test_layers_in_the_cache_are_not_downloaded(open_registry, monkeypatch):
    """The second look at a registry image fetches its manifest and config, no layer; and an
    image whose layers were read (and hashed) from the archive it was pushed from downloads none."""
    monkeypatch.setattr(layercache, "RACY", 0.0)
    proxy = CountingProxy(open_registry.host)
    cached = OpenOptions(cache=True)
    try:
        fetched = []
        for name in ("bloat:gzip", "bloat:gzip"):
            image = load(f"registry://{proxy.host}/{name}", cached)
            image.close()
            fetched.append(proxy.take())
        layer_bytes = sum(layer.blob_size for layer in image.layers)
        assert [layer.from_cache for layer in image.layers] == [True] * len(image.layers)
        assert fetched[0] > layer_bytes > 100_000, fetched
        assert fetched[1] < 20_000, fetched  # the manifest and the config, with HTTP headers

        local = load(str(REAL / "small-bloat.oci-zstd.tar"), cached)  # the archive of bloat:zstd
        local.close()
        proxy.take()
        remote = load(f"registry://{proxy.host}/bloat:zstd", cached)
        remote.close()
        assert proxy.take() < 20_000
        assert all(layer.from_cache for layer in remote.layers)
        assert _comparable(remote) == _comparable(local)
    finally:
        proxy.stop()


# ---- tokens that expire during a run; identity tokens ------------------------------------------------


def _token_registry(servers, blob: bytes, expired: set[str]):
    """A registry behind Bearer tokens whose token service gives `t1`, `t2`, … in turn; a
    token in `expired` is refused with a new challenge."""
    issued: list[str] = []
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": digest, "size": len(blob), "mediaType": "application/vnd.oci.image.config.v1+json"},
            "layers": [],
        }
    ).encode()

    def reply(h):
        if h.path.startswith("/token"):
            issued.append(f"t{len(issued) + 1}")
            return _send(h, 200, json.dumps({"token": issued[-1], "expires_in": 300}).encode())
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] in expired:
            challenge = f'Bearer realm="http://{server.host}/token",service="svc",scope="repository:a:pull"'
            api = {"Docker-Distribution-API-Version": "registry/2.0"}
            return _send(h, 401, b"{}", {"WWW-Authenticate": challenge, **api})
        if "/manifests/" in h.path:
            return _send(h, 200, manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        _send(h, 200, blob)

    server = servers(reply)
    return server, digest, issued


def test_an_expired_bearer_token_is_renewed(servers, docker_config, monkeypatch):
    """A 401 after the token was accepted (it expired) asks the token service again, once: in
    the main process and in a worker's `RemoteBlob` alike."""
    monkeypatch.setattr(registry, "_tokens", {})
    monkeypatch.setattr(blobfetch, "_renewed", {})
    blob = b"config bytes"
    expired: set[str] = set()
    server, digest, issued = _token_registry(servers, blob, expired)
    source = registry.open_registry(f"registry://{server.host}/a:1")
    try:
        assert issued == ["t1"]
        manifest = json.loads(source.read_bytes("index.json"))["manifests"][0]["digest"]
        source.read_bytes("blobs/" + manifest.replace(":", "/"))  # fetched already: what it names is learnt
        expired.add("t1")  # the run goes on past the token's life
        assert source.read_bytes("blobs/" + digest.replace(":", "/")) == blob
        assert issued == ["t1", "t2"]
        remote = source._remote("blobs/" + digest.replace(":", "/"))
        assert remote.login == blobfetch.Login()  # anonymous tokens
        with remote.open("blob") as stream:  # what a worker process does: t2 stands for t1 now
            assert stream.read(100) == blob
        assert issued == ["t1", "t2"]
        expired.add("t2")
        with remote.open("blob") as stream:
            assert stream.read(100) == blob
        assert issued == ["t1", "t2", "t3"]
        blobfetch._renewed.clear()  # a fresh worker process: renews its own
        with remote.open("blob") as stream:
            assert stream.read(100) == blob
        assert issued == ["t1", "t2", "t3", "t4"]
        source.client.manifest(manifest, "manifest")  # the client's own requests: t1 is refused
        assert issued[-1] == "t5" and source.client.authorization == "Bearer t5"
    finally:
        source.close()
    token_requests = [headers for path, headers in server.seen if path.startswith("/token")]
    assert len(token_requests) == 5 and "Authorization" not in token_requests[0]  # anonymous


def test_identity_tokens_buy_bearer_tokens(servers, tmp_path, monkeypatch):
    """docker's `identitytoken` is an OAuth2 refresh token: POSTed to the realm as a
    refresh_token grant, never sent to the registry itself."""
    monkeypatch.setattr(registry, "_tokens", {})
    blob = b"config"
    server, digest, issued = _token_registry(servers, blob, set())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {server.host: {"auth": "", "identitytoken": "refresh-me"}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_credentials(server.host) == Credentials("<token>", "", identity_token="refresh-me")
    source = registry.open_registry(f"registry://{server.host}/a:1")
    source.close()
    [(path, headers)] = [seen for seen in server.seen if seen[0].startswith("/token")]
    form = dict(p.split("=", 1) for p in headers["body"].split("&"))
    assert path == "/token" and "Authorization" not in headers
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-me",
        "client_id": "layerscope",
        "service": "svc",
        "scope": "repository%3Aa%3Apull",
    }
    assert all("refresh-me" not in str(h) for p, h in server.seen if not p.startswith("/token"))
    # a credential helper hands one over as the user <token>
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\necho \'{"Username": "<token>", "Secret": "from-helper"}\'\n')
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config.write_text(json.dumps({"credsStore": "fake"}))
    assert docker_credentials(server.host).identity_token == "from-helper"


@needs_shared
@needs_registry
def test_serve_forwards_credentials_in_the_environment(basic_registry, monkeypatch):
    """`serve --username … --password-stdin` gives each tab's app process the credentials in its
    environment, never on its command line; the app takes them out of it (no child inherits them)."""
    from explorer.commands import remote, serve

    ref = f"registry://{basic_registry.host}/bloat:gzip"
    monkeypatch.delenv(remote.CREDENTIALS_ENV, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    parser = serve._parser()
    args = parser.parse_args([ref, "--username", USER, "--password-stdin"])
    remote.apply_registry_options(args)
    serve._validate(args, parser)  # the image is checked with them
    remote.forward_credentials()
    argv = serve.app_argv(ref, args)
    assert argv == [ref]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    assert json.loads(env[remote.CREDENTIALS_ENV]) == {"username": USER, "password": PASSWORD}
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "report", *argv, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    registry.configure(Settings())
    child = serve._parser().parse_args([ref])
    remote.apply_registry_options(child)  # what the app process does first
    assert remote.CREDENTIALS_ENV not in os.environ
    assert registry.current_settings().credentials == Credentials(USER, PASSWORD)
