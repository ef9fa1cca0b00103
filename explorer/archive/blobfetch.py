"""Fetching one registry blob, checked as it streams: what a worker process needs, no more.

Standard library only (`http.client`): a worker process that unpickles a `RemoteBlob` imports
this module, and importing `requests` there would cost each worker more than 0.1 s of CPU.
The registry client (`registry.py`, on `requests`) shares its policies from here: where a
redirect may go and with what headers, and what an HTTP error says.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urljoin, urlsplit

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


def redirect(url: str, location: str, headers: dict[str, str], what: str) -> tuple[str, dict[str, str]]:
    """Where a redirect leads and the headers to send there: Authorization only to the host it
    was meant for (blob storage gets a signed URL, not our token); never from HTTPS to HTTP."""
    target = urljoin(url, location)
    if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
        raise ImageError(f"{what}: the registry redirects to plain HTTP ({urlsplit(target).netloc}); refused")
    if urlsplit(target).netloc != urlsplit(url).netloc:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    return target, headers


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


def _connect(url: str, verify_tls: bool) -> tuple[http.client.HTTPConnection, str]:
    """A connection for `url` (through the environment's proxy, if any) and the request target."""
    import http.client
    import urllib.request

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
        proxy = None
    proxy_netloc = urlsplit(proxy if "://" in (proxy or "") else f"http://{proxy}").netloc if proxy else None
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            proxy_netloc or parts.netloc, timeout=TIMEOUT[0], context=context
        )
        if proxy_netloc:
            conn.set_tunnel(parts.netloc)
    else:
        conn = http.client.HTTPConnection(proxy_netloc or parts.netloc, timeout=TIMEOUT[0])
        if proxy_netloc:
            path = url
    return conn, path


def fetch(url: str, headers: dict[str, str], verify_tls: bool, what: str) -> http.client.HTTPResponse:
    """GET `url`, following redirects by `redirect`'s rules; the response of the last one."""
    for _ in range(MAX_REDIRECTS):
        conn, path = _connect(url, verify_tls)
        try:
            conn.connect()
            conn.sock.settimeout(TIMEOUT[1])
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise ImageError(f"{what}: {urlsplit(url).netloc} did not answer within {TIMEOUT[1]:g} s") from None
        except ssl.SSLError as exc:
            conn.close()
            raise ImageError(f"{what}: TLS failed with {urlsplit(url).netloc} ({reason(exc)})") from None
        except OSError as exc:
            conn.close()
            raise ImageError(f"{what}: cannot connect to {urlsplit(url).netloc} ({reason(exc)})") from None
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
        buffer = bytearray(want)
        view, got = memoryview(buffer), 0
        while got < want:
            try:
                n = self._response.readinto(view[got:])
            except Exception as exc:  # a read timeout, a connection cut short
                done = self.count + got
                raise ImageError(f"{self._name}: download failed after {done} bytes ({reason(exc)})") from None
            if not n:
                break
            got += n
        data = bytes(view[:got])  # one copy, straight from the socket's buffer
        view.release()
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


def registry_detail(body: bytes) -> str:
    """The registry's own error code and message, from its JSON error body."""
    import json

    try:
        errors = json.loads(body).get("errors") or []
        return f": {errors[0].get('code')} {errors[0].get('message')}".rstrip() if errors else ""
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


class RemoteBlob(NamedTuple):
    """A blob in a registry: where, with what authorization, and what it must hash to. A worker
    process scans one itself (see `scanworker`); the main process streams them the same way."""

    url: str
    authorization: str | None
    verify_tls: bool
    digest: str
    size: int | None

    def open(self, name: str) -> BlobStream:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        response = fetch(self.url, headers, self.verify_tls, name)
        if response.status >= 300:
            body = response.read(1 << 16)
            response.close()
            message = status_error(
                response.status,
                response.reason,
                response.getheader("Retry-After"),
                registry_detail(body),
                name,
                bool(headers),
            )
            raise ImageError(message)
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
