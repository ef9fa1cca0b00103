"""A real registry for the tests: Debian's `docker-registry` (distribution 2.8) on a free loopback
port, open, behind htpasswd Basic auth, or behind Bearer tokens from a tiny token server here;
images pushed into it with Debian's `skopeo`. Every process and server is stopped by its owner.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD = "tester", "s3cret-pass"
SERVICE, ISSUER = "layerscope-test-registry", "layerscope-test-issuer"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def self_signed(key, common_name: str, ca: bool = False):
    """A certificate for `key`, signed by itself, valid from yesterday to tomorrow."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256())


class TokenServer:
    """Issues registry tokens (RS256 JWT, its certificate in `x5c`) to `USER` for exactly the
    scopes asked for; records every scope it was asked for."""

    def __init__(self, folder: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = self_signed(self._key, "layerscope test token signer", ca=True)
        self.cert_path = folder / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.scopes: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                owner._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self._server.server_port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _sign(self, claims: dict) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            request.send_response(401)
            request.end_headers()
            return
        access = []
        for scope in query.get("scope", []):
            self.scopes.append(scope)
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": USER,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": f"{now}-{len(self.scopes)}",
            "access": access,
        }
        body = json.dumps({"token": self._sign(claims), "expires_in": 300}).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class Registry:
    """`docker-registry serve` on 127.0.0.1:PORT in `mode` "open", "basic" or "bearer"."""

    def __init__(self, folder: Path, mode: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.mode = mode
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.token_server: TokenServer | None = None
        auth = ""
        if mode == "basic":
            htpasswd = subprocess.run(
                ["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, check=True, timeout=30
            ).stdout
            (folder / "htpasswd").write_bytes(htpasswd)
            auth = f"auth:\n  htpasswd:\n    realm: layerscope-test\n    path: {folder / 'htpasswd'}\n"
        elif mode == "bearer":
            self.token_server = TokenServer(folder)
            auth = (
                f"auth:\n  token:\n    realm: {self.token_server.realm}\n    service: {SERVICE}\n"
                f"    issuer: {ISSUER}\n    rootcertbundle: {self.token_server.cert_path}\n"
            )
        config = folder / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
            f"http:\n  addr: {self.host}\n  secret: layerscope-test-secret\n" + auth
        )
        self._log = open(folder / "registry.log", "wb")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            self._wait_ready(folder)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, folder: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(folder / 'registry.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not answer on {self.host} within {START_TIMEOUT} s")

    def push(self, source: str, name: str, *, all_platforms: bool = False) -> None:
        """`skopeo copy SOURCE docker://HOST/NAME` (SOURCE like `oci-archive:/path`)."""
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests"]
        if self.mode != "open":
            command.append(f"--dest-creds={USER}:{PASSWORD}")
        if all_platforms:
            command.append("--all")
        subprocess.run([*command, source, f"docker://{self.host}/{name}"], check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
        if self.token_server:
            self.token_server.stop()


@contextlib.contextmanager
def running(folder: Path, mode: str):
    registry = Registry(folder, mode)
    try:
        yield registry
    finally:
        registry.stop()
