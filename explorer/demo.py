"""A built-in demo image, written on the fly: each layer shows one thing worth learning.

No Docker and no network: the layers are made here as tars and stored as an OCI image layout
archive with gzip layers. Contents are deterministic, so snapshots of the app stay stable.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import tempfile
from pathlib import Path

MTIME = 1_700_000_000  # 2023-11-14: fixed, for stable pictures
CREATED = "2023-11-14T22:13:20Z"


def _blob(size: int, seed: int) -> bytes:
    """Incompressible bytes, the same every time."""
    return random.Random(seed).randbytes(size)


def _tar(entries: list[tuple]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path, kind, payload, mode, *extra in entries:
            info = tarfile.TarInfo(path)
            info.mtime = extra[0] if extra else MTIME
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
                tf.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
                tf.addfile(info)
            else:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _d(path: str) -> tuple:
    return (path, "dir", b"", 0o755)


def _f(path: str, data: bytes, mode: int = 0o644, mtime: int = MTIME) -> tuple:
    return (path, "file", data, mode, mtime)


BUSYBOX = _blob(1_200_000, 1)
PKG_CACHE = _blob(2_400_000, 2)
PYTHON_LIB = _blob(900_000, 3)
MODEL = _blob(3_000_000, 4)
CONFIG_V1 = b"listen 80;\nworkers 4;\nlog /var/log/app.log;\n" * 20
CONFIG_V2 = b"listen 8080;\nworkers 8;\n"
# A fake key (not a key at all): for the "secret left in a lower layer" hint.
FAKE_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nlayerscope demo: not a real key\n-----END OPENSSH PRIVATE KEY-----\n"
TOOL = _blob(150_000, 5)

# (created_by, entries or None for a history-only row)
STEPS: list[tuple[str, list[tuple] | None]] = [
    (
        "ADD rootfs.tar /",
        [
            _d("bin/"),
            _f("bin/busybox", BUSYBOX, 0o755),
            ("bin/sh", "symlink", "busybox", 0o777),
            ("bin/ls", "symlink", "busybox", 0o777),
            _d("etc/"),
            _f("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
            _d("usr/"),
            _d("usr/share/"),
            _d("usr/share/docs/"),
            *[_f(f"usr/share/docs/guide-{i}.txt", _blob(40_000 + i * 1000, 10 + i)) for i in range(6)],
            _d("tmp/"),
        ],
    ),
    ("ENV PATH=/usr/local/bin:/usr/bin:/bin APP_HOME=/app", None),
    (
        "RUN apk add python3  # leaves the package cache behind",
        [
            _d("usr/lib/"),
            _d("usr/lib/python3/"),
            _f("usr/lib/python3/libpython.so", PYTHON_LIB, 0o755),
            ("usr/bin/python3", "symlink", "../lib/python3/libpython.so", 0o777),
            _d("var/"),
            _d("var/cache/"),
            _d("var/cache/apk/"),
            _f("var/cache/apk/APKINDEX.tar.gz", PKG_CACHE),
        ],
    ),
    (
        "RUN rm -rf /var/cache/apk  # too late: the cache stays in the layer below",
        [("var/cache/.wh.apk", "file", b"", 0o644)],
    ),
    (
        "COPY app/ /app/",
        [
            _d("app/"),
            _f("app/model.bin", MODEL),
            _f("app/app.conf", CONFIG_V1),
            _f("app/main.py", b"print('hi')\n"),
            _d("app/static/"),
            *[_f(f"app/static/asset-{i}.js", _blob(20_000, 30 + i)) for i in range(4)],
        ],
    ),
    (
        "RUN chmod 0600 /app/model.bin  # metadata only, but the whole file is stored again",
        [_f("app/model.bin", MODEL, 0o600)],
    ),
    ("COPY app.conf /app/app.conf  # overwrites the config", [_f("app/app.conf", CONFIG_V2)]),
    (
        "RUN rm -rf /usr/share/docs && mkdir /usr/share/docs && echo see-web > /usr/share/docs/README",
        [
            _d("usr/share/docs/"),
            ("usr/share/docs/.wh..wh..opq", "file", b"", 0o644),
            _f("usr/share/docs/README", b"see-web\n"),
        ],
    ),
    (
        "RUN ln /app/main.py /app/entry.py && ln -s /app/main.py /usr/local/bin/app",
        [
            _f("app/main.py", b"print('hi')\n"),
            ("app/entry.py", "hardlink", "app/main.py", 0o644),
            _d("usr/local/"),
            _d("usr/local/bin/"),
            ("usr/local/bin/app", "symlink", "/app/main.py", 0o777),
        ],
    ),
    (
        "COPY id_rsa /root/.ssh/id_rsa  # a deploy key, to fetch a private dependency",
        [_d("root/"), _d("root/.ssh/"), _f("root/.ssh/id_rsa", FAKE_KEY, 0o600)],
    ),
    (
        "COPY . /src  # the whole build context, .git included",
        [
            _d("src/"),
            _f("src/main.c", b"int main(void) { return 0; }\n"),
            _f("src/requirements.txt", b"requests==2.31.0\n"),
            _d("src/.git/"),
            _f("src/.git/HEAD", b"ref: refs/heads/main\n"),
            _d("src/.git/objects/"),
            _d("src/.git/objects/pack/"),
            _f("src/.git/objects/pack/pack-1.pack", _blob(180_000, 40)),
        ],
    ),
    (
        "RUN pip install -r /src/requirements.txt && rm /root/.ssh/id_rsa  # after COPY . : again on every edit",
        [
            ("root/.ssh/.wh.id_rsa", "file", b"", 0o644),
            _d("root/.cache/"),
            _d("root/.cache/pip/"),
            _d("root/.cache/pip/http/"),
            _f("root/.cache/pip/http/requests-2.31.0.whl", _blob(260_000, 41)),
            _d("usr/lib/python3/site-packages/"),
            _d("usr/lib/python3/site-packages/requests/"),
            _f("usr/lib/python3/site-packages/requests/api.py", _blob(60_000, 42)),
        ],
    ),
    (
        "RUN apk add gcc musl-dev && cc -O2 -o /usr/local/bin/tool /src/main.c && cp /usr/local/bin/tool /app/tool",
        [
            _f("usr/bin/gcc", _blob(400_000, 43), 0o755),
            _d("usr/libexec/"),
            _d("usr/libexec/gcc/"),
            _d("usr/libexec/gcc/x86_64-alpine-linux-musl/"),
            _f("usr/libexec/gcc/x86_64-alpine-linux-musl/cc1", _blob(900_000, 44), 0o755),
            _d("usr/include/"),
            *[
                _f(f"usr/include/{name}.h", _blob(8_000 + i * 500, 45 + i))
                for i, name in enumerate(("stdio", "stdlib"))
            ],
            _f("usr/lib/libc.a", _blob(300_000, 47)),
            _f("usr/local/bin/tool", TOOL, 0o755),
            _f("app/tool", TOOL, 0o755),
        ],
    ),
    (
        "RUN sed -i 's/debug=0/debug=0/' /app/static/asset-0.js  # the same bytes again",
        [_f("app/static/asset-0.js", _blob(20_000, 30), mtime=MTIME + 60)],
    ),
    ('CMD ["python3", "/app/main.py"]', None),
]


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_demo(path: Path) -> Path:
    """Write the demo image as an OCI archive at `path`."""
    blobs: dict[str, bytes] = {}
    layers, diff_ids, history = [], [], []
    for created_by, entries in STEPS:
        row = {"created": CREATED, "created_by": created_by}
        if entries is None:
            row["empty_layer"] = True
        else:
            tar = _tar(entries)
            blob = _gz(tar)
            blobs[_digest(blob)] = blob
            diff_ids.append(_digest(tar))
            layers.append(
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(blob), "size": len(blob)}
            )
        history.append(row)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_HOME=/app"],
            "Cmd": ["python3", "/app/main.py"],
            "WorkingDir": "/app",
            "User": "1000",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "layerscope demo"},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    blobs[_digest(config_bytes)] = config_bytes
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config_bytes),
            "size": len(config_bytes),
        },
        "layers": layers,
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
    blobs[_digest(manifest_bytes)] = manifest_bytes
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest_bytes),
                "size": len(manifest_bytes),
                "platform": {"os": "linux", "architecture": "amd64"},
                "annotations": {"org.opencontainers.image.ref.name": "layerscope/demo:latest"},
            }
        ],
    }
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index).encode()}
    files.update({f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()})
    with tarfile.open(path, "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            tf.addfile(info, io.BytesIO(data))
    return path


def demo_path() -> Path:
    """Write the demo to a fresh temporary file and return its path."""
    folder = Path(tempfile.mkdtemp(prefix="layerscope-demo-"))
    return write_demo(folder / "demo.oci.tar")
