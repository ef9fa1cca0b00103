"""The built-in demo, written on the fly: two tags of one app, each layer showing one thing worth learning.

`demo:v2` is the image the app opens; `demo:v1`, an earlier build, shares its base layers
(byte for byte, so the same diff_ids): layer reuse, seen in one archive. No Docker and no
network: the layers are written by `archive.writer` as an OCI image layout archive with gzip
layers. Contents are deterministic, so snapshots of the app stay stable.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

from .archive.options import DEFAULT_OPTIONS, OpenOptions
from .archive.writer import F, Image, Layer, write_oci

MTIME = 1_700_000_000  # 2023-11-14: fixed, for stable pictures
CREATED = "2023-11-14T22:13:20Z"
V1_CREATED = "2023-11-01T09:00:00Z"
V2, V1 = "layerscope/demo:v2", "layerscope/demo:v1"  # the archive's ref names; v2 is opened


def _blob(size: int, seed: int) -> bytes:
    """Incompressible bytes, the same every time."""
    return random.Random(seed).randbytes(size)


def _d(path: str) -> tuple:
    return (path, "dir", b"", 0o755)


def _f(path: str, data: bytes, mode: int = 0o644, mtime: int = MTIME) -> tuple:
    return (path, "file", data, mode, mtime)


CONFIG_V1 = b"listen 80;\nworkers 4;\nlog /var/log/app.log;\n" * 20
CONFIG_V2 = b"listen 8080;\nworkers 8;\n"
# A fake key (not a key at all): for the "secret left in a lower layer" hint.
FAKE_KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nlayerscope demo: not a real key\n-----END OPENSSH PRIVATE KEY-----\n"


@cache
def steps() -> list[tuple[str, list[tuple] | None]]:
    """The build steps of v2: (created_by, entries or None for a history-only row). Made on
    first use: their blobs take tens of ms to make, and the app imports this module for a name."""
    busybox, pkg_cache, python_lib = _blob(1_200_000, 1), _blob(2_400_000, 2), _blob(900_000, 3)
    model, tool = _blob(3_000_000, 4), _blob(150_000, 5)
    return [
        (
            "ADD rootfs.tar /",
            [
                _d("bin/"),
                _f("bin/busybox", busybox, 0o755),
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
                _f("usr/lib/python3/libpython.so", python_lib, 0o755),
                ("usr/bin/python3", "symlink", "../lib/python3/libpython.so", 0o777),
                _d("var/"),
                _d("var/cache/"),
                _d("var/cache/apk/"),
                _f("var/cache/apk/APKINDEX.tar.gz", pkg_cache),
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
                _f("app/model.bin", model),
                _f("app/app.conf", CONFIG_V1),
                _f("app/main.py", b"print('hi')\n"),
                _d("app/static/"),
                *[_f(f"app/static/asset-{i}.js", _blob(20_000, 30 + i)) for i in range(4)],
            ],
        ),
        (
            "RUN chmod 0600 /app/model.bin  # metadata only, but the whole file is stored again",
            [_f("app/model.bin", model, 0o600)],
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
                _f("usr/local/bin/tool", tool, 0o755),
                _f("app/tool", tool, 0o755),
            ],
        ),
        (
            "RUN sed -i 's/debug=0/debug=0/' /app/static/asset-0.js  # the same bytes again",
            [_f("app/static/asset-0.js", _blob(20_000, 30), mtime=MTIME + 60)],
        ),
        ('CMD ["python3", "/app/main.py"]', None),
    ]


# ---- the package databases: what the Packages tab shows ------------------------------------
# Alpine's database (every `apk` run rewrites lib/apk/db/installed whole) and one Python
# distribution, added to the steps that install them: the steps above read as the Dockerfile.
_APK = {  # name: (version, installed size, {folder: [files]})
    "musl": ("1.2.4-r1", 31_000, {"lib": ["ld-musl-x86_64.so.1"]}),
    "busybox": ("1.36.1-r15", 1_200_000, {"bin": ["busybox", "sh", "ls"]}),
    "alpine-baselayout": ("3.4.3-r2", 8_192, {"etc": ["passwd"]}),
    "python3": ("3.11.6-r0", 900_000, {"usr/lib/python3": ["libpython.so"], "usr/bin": ["python3"]}),
    "gcc": (
        "13.2.1_git20231014-r0",
        1_300_000,
        {"usr/bin": ["gcc"], "usr/libexec/gcc/x86_64-alpine-linux-musl": ["cc1"]},
    ),
    "musl-dev": ("1.2.4-r2", 320_000, {"usr/include": ["stdio.h", "stdlib.h"], "usr/lib": ["libc.a"]}),
}
_APK_STEPS = {  # the step that runs apk (the start of its instruction): the packages installed after it
    "ADD rootfs.tar": ["musl", "busybox", "alpine-baselayout"],
    "RUN apk add python3": ["musl", "busybox", "alpine-baselayout", "python3"],
    "RUN apk add gcc musl-dev": ["musl@1.2.4-r2", "busybox", "alpine-baselayout", "python3", "gcc", "musl-dev"],
}
_REQUESTS_RECORD = (
    "requests/api.py,sha256=,60000\nrequests-2.31.0.dist-info/METADATA,,\nrequests-2.31.0.dist-info/RECORD,,\n"
)


def _apk_installed(names: list[str]) -> bytes:
    blocks = []
    for item in names:
        name, _, newer = item.partition("@")
        version, size, folders = _APK[name]
        lines = [f"P:{name}", f"V:{newer or version}", "A:x86_64", f"I:{size}"]
        for folder, files in folders.items():
            lines += [f"F:{folder}", *(f"R:{file}" for file in files)]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks).encode()


def _package_entries(created_by: str) -> list[tuple]:
    """The package-database files (and musl's library) a step writes."""
    entries = []
    for step, names in _APK_STEPS.items():
        if created_by.startswith(step):
            if step.startswith("ADD"):
                entries += [_d("lib/"), _d("lib/apk/"), _d("lib/apk/db/")]
                entries.append(_f("lib/ld-musl-x86_64.so.1", _blob(30_000, 60), 0o755))
            elif "musl-dev" in step:
                # `apk add musl-dev` upgrades musl: musl-dev wants its exact version
                entries.append(_f("lib/ld-musl-x86_64.so.1", _blob(31_000, 61), 0o755))
            entries.append(_f("lib/apk/db/installed", _apk_installed(names)))
    if created_by.startswith("RUN pip install"):
        info = "usr/lib/python3/site-packages/requests-2.31.0.dist-info/"
        entries += [
            _d(info),
            _f(info + "METADATA", b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"),
            _f(info + "RECORD", _REQUESTS_RECORD.encode()),
        ]
    return entries


def _entry(path: str, kind: str, payload: bytes | str, mode: int, mtime: int = MTIME) -> F:
    if isinstance(payload, str):  # a link's target
        return F(path, kind=kind, link=payload, mode=mode, mtime=mtime)
    return F(path, payload, kind=kind, mode=mode, mtime=mtime)


def _image(steps: list[tuple[str, list[tuple] | None]], created: str, tag: str) -> Image:
    """An image of build steps (tarfile-style records keep the layers' digests, which the
    screenshots show, as they were)."""
    layers = [
        Layer([_entry(*entry) for entry in entries + _package_entries(created_by)], created_by, records=True)
        for created_by, entries in steps
        if entries is not None
    ]
    history = [
        {"created": CREATED, "created_by": created_by} | ({"empty_layer": True} if entries is None else {})
        for created_by, entries in steps
    ]
    config = {
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_HOME=/app"],
        "Cmd": ["python3", "/app/main.py"],
        "WorkingDir": "/app",
        "User": "1000",
        "ExposedPorts": {"8080/tcp": {}},
        "Labels": {"org.opencontainers.image.title": "layerscope demo"},
    }
    return Image(layers, history, config, created=created, tags=[tag])


def demo_image() -> Image:
    """`demo:v2`, the image the app opens: every step of `steps`."""
    return _image(steps(), CREATED, V2)


def _shared_steps() -> list[tuple[str, list[tuple] | None]]:
    """The steps v1 and v2 share: up to and including the COPY of the app."""
    end = next(i for i, (created_by, _) in enumerate(steps()) if created_by.startswith("COPY app/"))
    return steps()[: end + 1]


def demo_v1() -> Image:
    """`demo:v1`, an earlier build: the same base layers as v2 (the build cache reused them),
    then its own last step."""
    steps = [
        *_shared_steps(),
        ("COPY app.conf /app/app.conf", [_f("app/app.conf", b"listen 80;\n")]),
        ('CMD ["python3", "/app/main.py"]', None),
    ]
    return _image(steps, V1_CREATED, V1)


def write_demo(path: Path) -> Path:
    """Write the demo (v2 first, then v1) as an OCI archive at `path`."""
    return write_oci([demo_image(), demo_v1()], path, ref_names=[V2, V1])


def demo_options(options: OpenOptions = DEFAULT_OPTIONS) -> OpenOptions:
    """`options` choosing v2 of the demo archive, unless they choose an image already."""
    return options if options.image else options._replace(image=V2)
