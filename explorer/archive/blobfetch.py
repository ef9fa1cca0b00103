"""HTTP for the registry client: one request at a time, each blob checked as it streams.

On the standard library's `http.client`, the lightest to import (0.03 s of CPU with `ssl`, in
every worker process that fetches a layer). A client library costs more to import than it
would save here: `requests` 0.07-0.1 s in the `report` process (a third of it charset detection
it never uses), `urllib3` alone 0.03 s there and 0.09 s in each worker. What such a library
adds is here, one copy for the main process (`registry.py`) and the workers: redirects and
the headers they carry, proxies from the environment, timeouts, what an HTTP error says,
Bearer tokens."""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlencode, urljoin, urlsplit

from .errors import CorruptBlob, ImageError

if TYPE_CHECKING:
    import http.client

    from .entries import Row
    from .layerscan import LayerScan
    from .limits import Limits

TIMEOUT = (10.0, 60.0)  # seconds to connect, and between two reads
MAX_REDIRECTS = 10
READ_SIZE = 1 << 20
REDIRECTS = (301, 302, 303, 307, 308)


class NotHTTP(ImageError):
    """The server answered, but not in HTTP (or dropped the connection at the request)."""


class NotTLS(ImageError):
    """The server's first answer to the TLS hello was no TLS record: a plain-HTTP server's
    `HTTP/1.1 400 …`, say (with --insecure, HTTP is tried next on that port)."""


class Refused(ImageError):
    """Nothing listens on the port: the connection was refused."""


# OpenSSL's reasons for a first answer that is no TLS record (3.2 and later: "record layer failure")
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "PACKET_LENGTH_TOO_LONG"}


def redirect(url: str, location: str, headers: dict[str, str], what: str) -> tuple[str, dict[str, str]]:
    """Where a redirect leads and the headers to send there: Authorization only to the host it
    was meant for (blob storage gets a signed URL, not our token); never from HTTPS to HTTP."""
    target = urljoin(url, location)
    if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
        raise ImageError(f"{what}: the registry redirects to plain HTTP ({urlsplit(target).netloc}); refused")
    if urlsplit(target).netloc != urlsplit(url).netloc:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return target, headers


def is_loopback(host: str) -> bool:
    """Whether `host` (with its port) is this machine: plain HTTP is allowed to it."""
    import ipaddress

    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def reason(exc: BaseException) -> str:
    """The innermost cause of a connection error, in one short line."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = " ".join(str(exc).split())
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    return match.group(1).strip() if match else (text[:160] or type(exc).__name__)


def status_error(code: int, phrase: str, retry_after: str | None, detail: str, what: str, credentials: bool) -> str:
    """The one-line message for an HTTP error status (`detail`: the registry's own error code)."""
    if code == 401:
        if credentials:
            return f"{what}: the registry refused the credentials (401 Unauthorized){detail}"
        return (
            f"{what}: authentication required (401 Unauthorized); log in with `docker login`"
            " or give --username and --password-stdin"
        )
    if code == 403:
        return f"{what}: access denied (403 Forbidden){detail}"
    if code == 404:
        return f"{what}: not found (404){detail}"
    if code == 429:
        after = f"; retry after {retry_after} s" if retry_after else ""
        return f"{what}: rate limited by the registry (429 Too Many Requests){after}"
    return f"{what}: the registry answered {code} {phrase}{detail}"


def _connect(url: str, verify_tls: bool) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """A connection for `url` (through the environment's proxy, if any), the request target,
    and the headers the proxy is to get with a plain-HTTP request (its credentials)."""
    import http.client

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    proxy = None
    if sys.platform in ("darwin", "win32") or any(k.lower().endswith("_proxy") for k in os.environ):
        import urllib.request  # 15-30 ms a worker: only where a proxy may be set (elsewhere: *_proxy)

        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
            proxy = None
    proxy_netloc, proxy_headers = None, {}
    if proxy:
        userinfo, _, proxy_netloc = urlsplit(proxy if "://" in proxy else f"http://{proxy}").netloc.rpartition("@")
        if userinfo:  # http://user:password@proxy:3128
            import base64

            credentials = ":".join(unquote(p) for p in userinfo.split(":", 1)).encode()
            proxy_headers = {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode()}
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            proxy_netloc or parts.netloc, timeout=TIMEOUT[0], context=context
        )
        if proxy_netloc:
            conn.set_tunnel(parts.netloc, headers=proxy_headers)
        return conn, path, {}
    conn = http.client.HTTPConnection(proxy_netloc or parts.netloc, timeout=TIMEOUT[0])
    return conn, (url if proxy_netloc else path), proxy_headers


def fetch(
    url: str, headers: dict[str, str], verify_tls: bool, what: str, form: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """GET `url` (or POST `form` to it), following redirects by `redirect`'s rules; the
    response of the last one."""
    import http.client

    for _ in range(MAX_REDIRECTS):
        conn, path, proxy_headers = _connect(url, verify_tls)
        waited = TIMEOUT[0]  # to connect (and the TLS handshake), then between two reads
        try:
            conn.connect()
            waited = TIMEOUT[1]
            conn.sock.settimeout(waited)
            if form is not None:
                body = urlencode(form).encode()
                form_type = {"Content-Type": "application/x-www-form-urlencoded"}
                conn.request("POST", path, body, {**headers, **proxy_headers, **form_type})
            else:
                conn.request("GET", path, headers={**headers, **proxy_headers})
            response = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise ImageError(f"{what}: {urlsplit(url).netloc} did not answer within {waited:g} s") from None
        except ssl.SSLError as exc:
            conn.close()
            failed = NotTLS if exc.reason in _NOT_TLS else ImageError
            raise failed(f"{what}: TLS failed with {urlsplit(url).netloc} ({reason(exc)})") from None
        except (http.client.HTTPException, ConnectionResetError) as exc:  # a TLS port asked in plain text, say
            conn.close()
            raise NotHTTP(f"{what}: {urlsplit(url).netloc} gave no HTTP answer ({reason(exc)})") from None
        except OSError as exc:
            conn.close()
            failed = Refused if isinstance(exc, ConnectionRefusedError) else ImageError
            raise failed(f"{what}: cannot connect to {urlsplit(url).netloc} ({reason(exc)})") from None
        location = response.getheader("Location")
        if response.status not in REDIRECTS or not location:
            return response
        conn.close()
        url, headers = redirect(url, location, headers, what)
    raise ImageError(f"{what}: more than {MAX_REDIRECTS} redirects")


class BlobStream:
    """A blob's bytes as they arrive, hashed; at the end its size and sha256 must match.

    As a context manager: leaving it normally reads what the scan left unread and checks
    the digest (a CorruptBlob if wrong); leaving it on an error only closes the connection.
    """

    def __init__(self, response: http.client.HTTPResponse, digest: str, size: int | None, name: str) -> None:
        self._response = response
        self._digest = digest
        self._size = size
        self._name = name
        self._hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        want = READ_SIZE if n is None or n < 0 else n
        if self._size is not None:
            want = min(want, self._size - self.count + 1)  # one byte more shows an overlong blob
        try:
            data = self._response.read(want)  # the socket's bytes into one new object, in C
        except Exception as exc:  # a read timeout, a connection cut short
            raise ImageError(f"{self._name}: download failed after {self.count} bytes ({reason(exc)})") from None
        self._hash.update(data)
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise CorruptBlob(f"{self._name}: the registry sent more than its {self._size} bytes")
        return data

    def verify(self) -> None:
        while self.read(READ_SIZE):
            pass
        if self._size is not None and self.count < self._size:
            raise CorruptBlob(f"{self._name}: truncated ({self._size - self.count} bytes missing)")
        actual = "sha256:" + self._hash.hexdigest()
        if self._digest.startswith("sha256:") and actual != self._digest:
            raise CorruptBlob(f"{self._name}: blob content does not match its digest ({actual})")

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        try:
            if kind is None:
                self.verify()
        finally:
            self.close()


def check(response: http.client.HTTPResponse, what: str, credentials: bool) -> None:
    """Raise the one-line error an HTTP error status means (`credentials`: some were sent)."""
    if response.status < 300:
        return
    body = response.read(1 << 16)
    response.close()
    detail, retry_after = registry_detail(body), response.getheader("Retry-After")
    raise ImageError(status_error(response.status, response.reason, retry_after, detail, what, credentials))


def registry_detail(body: bytes) -> str:
    """The registry's own error code and message, from its JSON error body."""
    import json

    try:
        errors = json.loads(body).get("errors") or []
        return f": {errors[0].get('code')} {errors[0].get('message')}".rstrip() if errors else ""
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


# ---- Bearer tokens ------------------------------------------------------------------------------

_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…",scope="…"` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): (m[2] if m[2] or not m[3] else m[3]) for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


MAX_TOKEN_RESPONSE = 1 << 20
IDENTITY_CLIENT_ID = "layerscope"  # the OAuth2 client_id sent with a refresh-token grant, as docker sends its own


class Login(NamedTuple):
    """What the token service is shown for a new Bearer token: a Basic Authorization value, or
    an OAuth2 refresh token (docker's `identitytoken`), or neither (anonymous)."""

    basic: str | None = None
    identity_token: str | None = None


def token_request(params: dict[str, str], scope: str, login: Login) -> tuple[str, dict[str, str], dict | None]:
    """(url, headers, form) asking the realm of a Bearer challenge for a token: a GET with the
    Basic credentials, or with an identity token a POST of the refresh-token grant."""
    realm = params.get("realm")
    if not realm:
        raise ImageError("the registry's Bearer challenge names no realm")
    service = {"service": params["service"]} if "service" in params else {}
    if login.identity_token:
        form = {"grant_type": "refresh_token", "refresh_token": login.identity_token, "client_id": IDENTITY_CLIENT_ID}
        return realm, {}, {**form, **service, "scope": scope}
    url = realm + ("&" if "?" in realm else "?") + urlencode({"scope": scope, **service})
    return url, ({"Authorization": login.basic} if login.basic else {}), None


def parse_token(body: bytes, what: str) -> tuple[str, float]:
    """(token, seconds it lives) from a token service's JSON answer."""
    import json

    if len(body) > MAX_TOKEN_RESPONSE:
        raise ImageError(f"{what}: the token service's answer is too large")
    try:
        data = json.loads(body)
        token = data.get("token") or data.get("access_token")
        lifetime = float(data.get("expires_in") or 60)
    except (ValueError, AttributeError, TypeError):
        token, lifetime = None, 0.0
    if not isinstance(token, str) or not token:
        raise ImageError(f"{what}: the token service gave no token")
    return token, lifetime


def new_token(params: dict[str, str], scope: str, login: Login, verify_tls: bool, what: str) -> tuple[str, float]:
    """(token, seconds it lives) from the token service a Bearer challenge's `params` name."""
    try:
        url, headers, form = token_request(params, scope, login)
    except ImageError as exc:
        raise ImageError(f"{what}: {exc}") from None
    service = urlsplit(url).netloc
    if urlsplit(url).scheme != "https" and verify_tls and not is_loopback(service):
        raise ImageError(f"{what}: the token service {service} is plain HTTP; refused")
    response = fetch(url, headers, verify_tls, f"{what} (token)", form)
    check(response, f"{what} (token from {service})", login != Login())
    body = response.read(MAX_TOKEN_RESPONSE + 1)
    response.close()
    return parse_token(body, what)


def _fresh_token(challenge: str, login: Login, verify_tls: bool, what: str) -> str | None:
    """A new Bearer token for a 401's challenge (None if it is not a Bearer one)."""
    scheme, params = parse_challenge(challenge)
    if scheme != "bearer":
        return None
    return new_token(params, params.get("scope", ""), login, verify_tls, what)[0]


_renewed: dict[str, str] = {}  # an expired Authorization value → the one that replaced it, in this process


class RemoteBlob(NamedTuple):
    """A blob in a registry: where, with what authorization, and what it must hash to. A worker
    process scans one itself (see `scanworker`); the main process streams them the same way.

    With `login`, a Bearer token that has expired by the time the blob is asked for (a 401
    with a new challenge) is replaced by a fresh one, once."""

    url: str
    authorization: str | None
    verify_tls: bool
    digest: str
    size: int | None
    login: Login | None = None

    def open(self, name: str) -> BlobStream:
        authorization = _renewed.get(self.authorization, self.authorization) if self.authorization else None
        headers = {"Authorization": authorization} if authorization else {}
        response = fetch(self.url, headers, self.verify_tls, name)
        challenge = response.getheader("WWW-Authenticate")
        if response.status == 401 and self.login is not None and challenge:
            response.close()
            token = _fresh_token(challenge, self.login, self.verify_tls, name)
            if token is not None:
                _renewed[self.authorization or ""] = headers["Authorization"] = f"Bearer {token}"
                response = fetch(self.url, headers, self.verify_tls, name)
        check(response, name, bool(headers))
        return BlobStream(response, self.digest, self.size, name)

    def scan(
        self,
        label: str,
        on_progress: Callable[[int], None] | None,
        verify: bool,
        limits: Limits,
        on_rows: Callable[[list[Row]], None] | None = None,
    ) -> LayerScan:
        """What a worker does with this job (the counterpart of `layerscan.scan_location`)."""
        from .layerscan import scan_layer

        with self.open(label) as raw:
            return scan_layer(raw, label, self.size or 0, on_progress, verify, limits, on_rows)
