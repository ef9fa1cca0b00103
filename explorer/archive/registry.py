"""Images straight from a registry (the OCI distribution API), no daemon and nothing on disk.

`registry://HOST[:PORT]/REPO[:TAG|@sha256:…]` (or a plain `HOST/REPO:TAG`, `library/alpine`,
`alpine:3.20` when no such local file exists) becomes a `RegistrySource`: the manifest (or
index) is fetched, presented as a one-entry OCI `index.json`, and every blob it names is
fetched on demand by digest, so the archive readers choose the platform and read the config
as they do for a file. Layer blobs are streamed into the tar reader; `locate` hands worker
processes a `RemoteBlob` each, so several layers download and scan at once. Every blob's
sha256 is computed as it streams and checked against its digest (also its size): a registry
is trusted no more than an archive.

Auth: anonymous, Basic and Bearer, from the `WWW-Authenticate` challenge; tokens are cached
per registry, repository and scope (a second repository gets its own). Credentials come from
`--username/--password-stdin`, else `~/.docker/config.json` (`auths`, `credHelpers`,
`credsStore`). Plain HTTP only with `--insecure` or for a loopback host; an Authorization
header never follows a redirect to another host (blob storage). HTTP itself: `blobfetch`.

The client is ours and small: `oras` 0.2.43 breaks on a Basic challenge unless told in
advance and keeps one Bearer token per client (a second repository gets 401); `python-dxf`
refuses any login over plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import blobfetch
from .blobfetch import BlobStream, Login, RemoteBlob, check, new_token, parse_challenge
from .blobfetch import (
    is_loopback as _is_loopback,
)
from .errors import CorruptBlob, ImageError
from .sources import MAX_JSON, Source

if TYPE_CHECKING:
    import http.client


SCHEME = "registry://"
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
READ_SIZE = 1 << 20
AHEAD = 4  # layer requests sent ahead of the one being read
ARCHIVE_SUFFIXES = (".tar", ".tgz", ".gz", ".zst", ".zstd", ".tzst", ".oci")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"(?:(?P<host>\[[0-9a-fA-F:]+\](?::[0-9]+)?|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]+)?)/)?"
    rf"(?P<repo>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)


# ---- references ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """An image in a registry: `host` as written (with its port), the API host, the repository."""

    host: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host in (DOCKER_HUB, "index.docker.io") else self.host

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest if given, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}" + (f"@{self.digest}" if self.digest else f":{self.tag or 'latest'}")


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


def parse_reference(text: str) -> Reference | None:
    """The registry image `text` names, or None when it is a local path (or not a reference).

    `registry://…` is always a reference (malformed: an error). Without the scheme, a text is
    one only when no such file exists, it does not end like an archive file name, and it
    names a host (`HOST/REPO…`), a repository path (`library/alpine`), a tag or a digest.
    """
    explicit = text.startswith(SCHEME)
    body = text[len(SCHEME) :] if explicit else text
    if not explicit and (text == "-" or os.path.lexists(text) or text.lower().endswith(ARCHIVE_SUFFIXES)):
        return None
    match = _REFERENCE.fullmatch(body)
    if match is None:
        if explicit:
            raise ImageError(f"{text}: not a registry reference (registry://HOST[:PORT]/REPO[:TAG|@sha256:…])")
        return None
    host, repo = match["host"], match["repo"]
    if host and not _is_host(host):  # `library/alpine`: the first name is part of the repository
        if not re.fullmatch(_COMPONENT, host):
            return None
        host, repo = None, f"{host}/{repo}"
    if explicit and not host:
        raise ImageError(f"{text}: give the registry host (registry://HOST[:PORT]/REPO[:TAG])")
    if not (host or "/" in repo or match["tag"] or match["digest"]):
        return None  # a bare word is a missing file, not an image on Docker Hub
    host = host or DOCKER_HUB
    if host == DOCKER_HUB and "/" not in repo:
        repo = f"library/{repo}"
    return Reference(host, repo, match["tag"], match["digest"])


# ---- credentials -------------------------------------------------------------------------------


IDENTITY_USER = "<token>"  # the user name docker stores with an identity token (credential helpers too)


@dataclass(frozen=True)
class Credentials:
    """A user name and password, or an OAuth2 identity token (docker's `identitytoken`, a
    refresh token: it buys Bearer tokens and is never sent to the registry itself)."""

    username: str
    password: str
    identity_token: str | None = None

    def basic(self) -> str:
        """The value of a Basic Authorization header."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def login(self) -> Login:
        """What the token service is shown."""
        return Login(identity_token=self.identity_token) if self.identity_token else Login(basic=self.basic())


@dataclass(frozen=True)
class Settings:
    """What the command line says about registries (`--username`, `--password-stdin`, `--insecure`)."""

    credentials: Credentials | None = None
    insecure: bool = False


_settings = Settings()


def configure(settings: Settings) -> None:
    """Set the command line's registry options for the sources opened after this."""
    global _settings
    _settings = settings


def current_settings() -> Settings:
    return _settings


def _docker_config() -> dict:
    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        data = json.loads((Path(folder) / "config.json").read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ImageError(f"{folder}/config.json: unreadable ({exc})") from None
    return data if isinstance(data, dict) else {}


def _auth_keys(host: str) -> list[str]:
    if host in (DOCKER_HUB, "index.docker.io", DOCKER_HUB_API):
        return [DOCKER_HUB_AUTH_KEY, "index.docker.io", DOCKER_HUB, DOCKER_HUB_API]
    return [host]


def _key_host(key: str) -> str:
    """`https://host:5000/v1/` → `host:5000`, as docker matches its `auths` keys."""
    return urlsplit(key).netloc if "://" in key else key.partition("/")[0]


def _credential_helper(helper: str, server: str) -> Credentials | None:
    command = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([command, "get"], input=server.encode(), capture_output=True, timeout=30)
    except FileNotFoundError:
        raise ImageError(f"{command} (the credential helper of ~/.docker/config.json) is not on PATH") from None
    except subprocess.TimeoutExpired:
        raise ImageError(f"{command} get: no answer within 30 s") from None
    if proc.returncode != 0:
        if b"credentials not found" in proc.stdout + proc.stderr:
            return None
        raise ImageError(f"{command} get {server}: failed ({proc.stderr.decode(errors='replace').strip()[:200]})")
    try:
        data = json.loads(proc.stdout)
        if data["Username"] == IDENTITY_USER:
            return Credentials(IDENTITY_USER, "", identity_token=str(data["Secret"]))
        return Credentials(str(data["Username"]), str(data["Secret"]))
    except (ValueError, KeyError, TypeError):
        raise ImageError(f"{command} get {server}: unexpected answer") from None


def docker_credentials(host: str) -> Credentials | None:
    """The credentials `docker login` stored for `host`: a credential helper, else `auths`."""
    config = _docker_config()
    keys = _auth_keys(host)
    helpers = config.get("credHelpers") if isinstance(config.get("credHelpers"), dict) else {}
    for key in keys:
        if isinstance(helpers.get(key), str):
            return _credential_helper(helpers[key], key)
    auths = config.get("auths") if isinstance(config.get("auths"), dict) else {}
    for stored, entry in auths.items():
        if not isinstance(entry, dict) or _key_host(stored) not in {_key_host(k) for k in keys}:
            continue
        if isinstance(entry.get("identitytoken"), str) and entry["identitytoken"]:
            return Credentials(IDENTITY_USER, "", identity_token=entry["identitytoken"])
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ImageError(f"~/.docker/config.json: the auth of {stored} is not base64 user:password") from None
            return Credentials(user, password)
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return Credentials(entry["username"], entry["password"])
    if isinstance(config.get("credsStore"), str):
        return _credential_helper(config["credsStore"], keys[0])
    return None


# ---- the client ------------------------------------------------------------------------------------


_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}  # (registry, repository, scope) → token, expiry
_tokens_lock = threading.Lock()


class RegistryClient:
    """One registry and repository: authenticates once, then fetches manifests and blobs."""

    def __init__(self, ref: Reference, settings: Settings | None = None) -> None:
        settings = settings or _settings
        self.ref = ref
        self.credentials = settings.credentials or docker_credentials(ref.host)
        self.authorization: str | None = None
        self.verify_tls = not settings.insecure
        self.base = self._base_url(ref.api_host, settings.insecure)

    def _base_url(self, host: str, insecure: bool) -> str:
        """HTTPS; plain HTTP only for a loopback host or with --insecure (TLS unchecked).

        A loopback registry is asked over plain HTTP first (a local test registry usually
        is; setting up TLS costs 70 ms): a registry answers `/v2/` with its API header, a
        TLS server does not. With --insecure, HTTPS is tried first, as docker does, and plain
        HTTP only where the port answered the TLS hello in plain text, or, with no port named,
        nothing listens on HTTPS's 443 (plain HTTP is then port 80). Any other failure (a slow
        answer, a TLS error) is the error: plain HTTP would hide it.
        """
        https, http = f"https://{host}", f"http://{host}"
        if _is_loopback(host):
            try:
                response = blobfetch.fetch(f"{http}/v2/", {}, False, str(self.ref))
            except blobfetch.NotHTTP:  # a TLS server that drops a plain request (Go's answers 400)
                return https
            response.close()
            return http if response.getheader("Docker-Distribution-API-Version") else https
        if not insecure:
            return https
        try:
            blobfetch.fetch(f"{https}/v2/", {}, False, str(self.ref)).close()
            return https
        except blobfetch.NotTLS:
            return http
        except blobfetch.Refused:
            if urlsplit(f"//{host}").port is None:
                return http
            raise

    def _scope(self) -> str:
        return f"repository:{self.ref.repository}:pull"

    def login(self) -> Login:
        return self.credentials.login() if self.credentials else Login()

    def _token(self, params: dict[str, str], what: str, fresh: bool = False) -> str:
        """A Bearer token for the challenge: the cached one unless `fresh` (the registry
        refused it: expired or revoked), else from the token service."""
        scope = params.get("scope") or self._scope()
        key = (self.ref.api_host, self.ref.repository, scope)
        with _tokens_lock:
            cached = _tokens.pop(key, None) if fresh else _tokens.get(key)
        if cached and cached[1] > time.monotonic() and not fresh:
            return cached[0]
        token, lifetime = new_token(params, scope, self.login(), self.verify_tls, what)
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(lifetime - 10, 5))
        return token

    def get(self, path: str, what: str, accept: str | None = None) -> http.client.HTTPResponse:
        """GET `/v2/{repository}/{path}`, answering an auth challenge once."""
        url = f"{self.base}/v2/{self.ref.repository}/{path}"
        headers = {"Accept": accept} if accept else {}
        for attempt in range(2):
            if self.authorization:
                headers["Authorization"] = self.authorization
            response = blobfetch.fetch(url, headers, self.verify_tls, what)
            if response.status != 401 or attempt:
                break
            scheme, params = parse_challenge(response.getheader("WWW-Authenticate") or "")
            response.close()
            refused = "Authorization" in headers  # one was sent: it expired, or was revoked
            if scheme == "bearer":
                self.authorization = "Bearer " + self._token(params, what, fresh=refused)
            elif scheme == "basic" and self.credentials and not self.credentials.identity_token:
                self.authorization = self.credentials.basic()
            else:
                break
        check(response, what, self.credentials is not None)
        return response

    def manifest(self, reference: str, what: str) -> tuple[bytes, str]:
        """A manifest or index by tag or digest: (its bytes, its sha256 digest), checked."""
        response = self.get(f"manifests/{reference}", what, ", ".join(MANIFEST_TYPES))
        body = _read_capped(iter(lambda: response.read(READ_SIZE), b""), MAX_JSON, what)
        response.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        claimed = reference if reference.startswith("sha256:") else response.getheader("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != digest:
            raise CorruptBlob(f"{what}: manifest content does not match its digest {claimed} ({digest})")
        return body, digest

    def blob_url(self, digest: str) -> str:
        return f"{self.base}/v2/{self.ref.repository}/blobs/{digest}"


def _read_capped(chunks: Iterable[bytes], limit: int, what: str) -> bytes:
    """All of a metadata response, refusing one larger than `limit` before holding it."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > limit:
            raise ImageError(f"{what}: larger than {limit} bytes; not image metadata")
    return bytes(data)


# ---- the image as a source ----------------------------------------------------------------------


class RegistrySource(Source):
    """An image in a registry, seen as an OCI layout: `index.json` names its manifest; blobs
    are fetched by digest when read (manifests and indexes from `/manifests/`, the rest from
    `/blobs/`), each checked against its digest."""

    def __init__(self, ref: Reference, settings: Settings | None = None) -> None:
        self.ref = ref
        self.client = RegistryClient(ref, settings)
        body, digest = self.client.manifest(ref.reference, str(ref))
        self._kind: dict[str, str] = {}  # blob path → "manifest" or "blob"
        self._sizes: dict[str, int] = {}
        self._digests: dict[str, str] = {}
        self._fetched: dict[str, bytes] = {}
        self._next_layer: dict[str, list[str]] = {}  # layer blob → the layers after it in its manifest
        self._pending: dict[str, Future[BlobStream]] = {}  # layer requests sent ahead
        self._pool: ThreadPoolExecutor | None = None
        self._wanted: set[str] | None = None  # the layers to be read (see `retain`): no other is fetched ahead
        path = self._learn(digest, len(body), "manifest")
        self._fetched[path] = body
        media_type = _media_type(body)
        if media_type == "application/vnd.docker.distribution.manifest.v1+json":
            raise ImageError(f"{ref}: a schema 1 manifest (deprecated by Docker in 2017); not supported")
        annotations = {"org.opencontainers.image.ref.name": str(ref)}
        index = {"schemaVersion": 2, "manifests": [{"digest": digest, "size": len(body), "annotations": annotations}]}
        if media_type:
            index["manifests"][0]["mediaType"] = media_type
        self._index = json.dumps(index).encode()

    def _learn(self, digest: object, size: object, kind: str) -> str:
        if not isinstance(digest, str) or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise ImageError(f"{self.ref}: malformed digest {digest!r}")
        path = "blobs/" + digest.replace(":", "/", 1)
        self._kind.setdefault(path, kind)
        self._digests[path] = digest
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            self._sizes[path] = size
        return path

    def _learn_children(self, body: bytes) -> None:
        """Remember what a manifest or index names (kinds and sizes, from its descriptors)."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        for desc in data.get("manifests") or []:
            if isinstance(desc, dict):
                self._learn(desc.get("digest"), desc.get("size"), "manifest")
        layers = []
        for desc in [data.get("config"), *(data.get("layers") or [])]:
            if isinstance(desc, dict):
                layers.append(self._learn(desc.get("digest"), desc.get("size"), "blob"))
        for i, layer in enumerate(layers[1:], start=1):
            self._next_layer.setdefault(layer, layers[i + 1 : i + 1 + AHEAD])

    def exists(self, name: str) -> bool:
        return name == "index.json" or name in self._kind

    def size(self, name: str) -> int:
        if name == "index.json":
            return len(self._index)
        return self._sizes.get(name, 0)

    def read_bytes(self, name: str) -> bytes:
        if name == "index.json":
            return self._index
        if name not in self._kind:
            raise ImageError(f"{name}: not named by the image")
        body = self._fetched.get(name)
        what = f"{self.ref}: {self._digests[name]}"
        if body is None:
            if self._kind[name] == "manifest":
                body, _ = self.client.manifest(self._digests[name], what)
            else:
                with self._open(name) as stream:
                    body = _read_capped(iter(lambda: stream.read(READ_SIZE), b""), MAX_JSON, what)
            self._fetched[name] = body
        if self._kind[name] == "manifest":
            self._learn_children(body)
        return body

    def _open(self, name: str) -> BlobStream:
        pending = self._pending.pop(name, None)
        return pending.result() if pending else self._remote(name).open(self._digests[name])

    def _remote(self, name: str) -> RemoteBlob:
        digest = self._digests[name]
        client = self.client
        bearer = (client.authorization or "").startswith("Bearer ")
        return RemoteBlob(
            client.blob_url(digest),
            client.authorization,
            client.verify_tls,
            digest,
            self._sizes.get(name),
            client.login() if bearer else None,  # a token that expires during the run is renewed
        )

    def open(self, name: str) -> BlobStream:  # type: ignore[override]
        """Stream a blob. Layers are read in order in this process (a small image): the
        requests for the next few are sent now, so each one's answer is there when its turn comes."""
        if self._kind.get(name) != "blob":
            raise ImageError(f"{name}: not a blob of the image")
        for ahead in self._next_layer.get(name, []):
            if ahead not in self._pending and (self._wanted is None or ahead in self._wanted):
                self._pool = self._pool or ThreadPoolExecutor(AHEAD, thread_name_prefix="layerscope-registry")
                self._pending[ahead] = self._pool.submit(self._remote(ahead).open, self._digests[ahead])
        return self._open(name)

    def retain(self, blobs: list[str]) -> None:
        """Fetch ahead only these layers (the layer cache has the others)."""
        self._wanted = set(blobs)

    def locate(self, name: str) -> RemoteBlob | None:  # type: ignore[override]
        """Layers for worker processes, which fetch and check them themselves."""
        return self._remote(name) if self._kind.get(name) == "blob" and name in self._sizes else None

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for pending in self._pending.values():
            if pending.done() and pending.exception() is None:
                pending.result().close()
        self._pending.clear()


def _media_type(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("mediaType") if isinstance(data, dict) else None
    if isinstance(value, str):
        return value
    if isinstance(data, dict) and data.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+json"
    return None


def open_registry(text: str) -> RegistrySource | None:
    """A source for `text` if it names a registry image (see `parse_reference`), else None."""
    ref = parse_reference(text)
    return RegistrySource(ref) if ref else None
