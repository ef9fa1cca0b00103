"""Write a large, realistic image without Docker, from a directory tree of this machine.

Files of ROOT (default /usr) are spread over several layers until the size budget is met;
later layers delete a directory (whiteout), re-store files with a chmod (same bytes again)
and overwrite some. The same layers are written (by the package's archive writer) as an OCI
archive with gzip layers, one with zstd layers, and a legacy docker-archive with plain tar
layers.

    python benchmarks/make_big_image.py OUTDIR [--size-mb 600] [--huge] [--root /usr]

Three more images measure the cost per entry rather than per byte:

    --many-small   ~120,000 entries of small files (avg. under 5 KB) from /usr/include,
                   /usr/lib/python3*, /usr/share/locale and /usr/share/zoneinfo, stored again
                   under other roots across layers, with deletions, re-stores and overwrites
                   (gzip, zstd and plain forms, as above)
    --million      1,000,000 entries in 4 layers: deep and wide trees of empty or tiny files
                   (plain docker-archive, which dive reads too)
    --many-layers  5,000 one-file gzip layers (`many_layers.py` writes 50,000)

and one measures reading packages on an image that lists what it stores, as real ones do:

    --debian       a Debian system of about 190 of this machine's installed packages in 4
                   layers: base, `apt-get install`, a purge, a reinstall (`debian_image.py`;
                   gzip, zstd and plain forms)
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.debian_image import DPKG, debian_layers  # noqa: E402
from benchmarks.synthetic import TarWriter  # noqa: E402
from explorer.archive.writer import Image, Layer, LayerFile, write_docker_archive, write_oci  # noqa: E402

LAYERS = 6


MAX_FILE = 8 << 20  # skip huge files, so the budget buys a realistic number of files
MAX_FILE_HUGE = 64 << 20  # /usr has ~117k files: only with some big ones does it reach ~4 GB


def collect(root: Path, budget: int, max_files: int, max_file: int = MAX_FILE) -> list[Path]:
    """Files of `root` in a stable order, up to the byte budget and the file count.

    Files up to MAX_FILE come first; files up to `max_file` then fill what is left of the
    budget, so a large budget does not cost the image its small files.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                size = path.stat().st_size
            except OSError:
                continue
            if size <= max_file:
                found.append((path, size))
    small = [(path, size) for path, size in found if size <= MAX_FILE]
    large = [(path, size) for path, size in found if size > MAX_FILE]
    chosen, total = set(), 0
    for path, size in small + large:
        if total >= budget or len(chosen) >= max_files:
            break
        chosen.add(path)
        total += size
    return [path for path, _ in found if path in chosen]


def add_file(tf: tarfile.TarFile, path: Path, root: Path, mode: int | None = None) -> None:
    info = tf.gettarinfo(str(path), arcname=str(path.relative_to(root.parent)))
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if mode is not None:
        info.mode = mode
    with open(path, "rb") as f:
        tf.addfile(info, f)


def dpkg_database() -> list[Path]:
    """This machine's dpkg status and file lists, so that reading packages costs what it would."""
    status = DPKG / "status"
    return [status, *sorted((DPKG / "info").glob("*.list"))] if status.is_file() else []


def write_layers(files: list[Path], root: Path, work: Path) -> list[Path]:
    """Base layers hold the files (the first also the dpkg database, the second its status
    again, as every layer that runs dpkg rewrites it); the last layers delete, re-store and
    overwrite some of them."""
    base = LAYERS - 2
    tars = []
    chunk = -(-len(files) // base)
    database = dpkg_database()
    for i in range(base):
        out = work / f"layer{i}.tar"
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
            for path in database[: None if i == 0 else 1 if i == 1 else 0]:
                add_file(tf, path, Path("/"))
            for path in files[i * chunk : (i + 1) * chunk]:
                add_file(tf, path, root)
        tars.append(out)
    # layer: whiteout the first directory of layer 1, chmod-re-store every 50th file of layer 0
    out = work / f"layer{base}.tar"
    victims = files[chunk : chunk + 1]
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        if victims:
            doomed = victims[0].relative_to(root.parent).parent
            info = tarfile.TarInfo(str(doomed / ".wh..wh..opq"))
            tf.addfile(info)
        for path in files[:chunk:50]:
            add_file(tf, path, root, mode=0o600)
    tars.append(out)
    # last layer: overwrite every 40th file of layer 2 with new content
    out = work / f"layer{base + 1}.tar"
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tf:
        for path in files[2 * chunk : 3 * chunk : 40]:
            data = b"overwritten\n"
            info = tarfile.TarInfo(str(path.relative_to(root.parent)))
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    tars.append(out)
    return tars


def image_of(tars: list[Path], steps: list[str], compression: str, tag: str) -> Image:
    layers: list[Layer | LayerFile] = [LayerFile(tar, step, compression) for tar, step in zip(tars, steps, strict=True)]
    return Image(layers, config={"Cmd": ["/bin/sh"]}, tags=[f"bench/{tag}:latest"])


def write_forms(tars: list[Path], steps: list[str], outdir: Path, tag: str, oci: bool = True) -> None:
    """The image as a docker-archive of plain tar layers and, with `oci`, as OCI archives of
    gzip and of zstd layers: `TAG.docker-archive.tar`, `TAG.oci-gzip.tar`, `TAG.oci-zstd.tar`."""
    write_docker_archive(image_of(tars, steps, "none", tag), outdir / f"{tag}.docker-archive.tar")
    if oci:
        write_oci(image_of(tars, steps, "gzip", tag), outdir / f"{tag}.oci-gzip.tar")
        write_oci(image_of(tars, steps, "zstd", tag), outdir / f"{tag}.oci-zstd.tar")


SMALL_ROOTS = ("/usr/include", "/usr/lib/python3", "/usr/lib/python3.*", "/usr/share/locale", "/usr/share/zoneinfo")
SMALL_MAX = 16 << 10  # the largest file taken for --many-small
SMALL_COPIES = 8  # the tree is stored this many times, under other roots (venvs, say)


def small_files() -> list[tuple[str, bytes]]:
    """(path without the leading "/", content) of every small regular file under SMALL_ROOTS."""
    roots = sorted({p for pattern in SMALL_ROOTS for p in Path("/").glob(pattern.lstrip("/")) if p.is_dir()})
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath, name)
                try:
                    if path.is_symlink() or not path.is_file() or path.stat().st_size > SMALL_MAX:
                        continue
                    found.append((str(path)[1:], path.read_bytes()))
                except OSError:
                    continue
    return found


def _store(tar: TarWriter, files: list[tuple[str, bytes]], prefix: str, mode: int = 0o644) -> None:
    """`files` under `prefix`, each directory named before its contents (as tar writers do)."""
    made: set[str] = set()
    for path, data in files:
        full = prefix + path
        head = full.rpartition("/")[0]
        missing = []
        while head and head not in made:
            missing.append(head)
            made.add(head)
            head = head.rpartition("/")[0]
        for directory in reversed(missing):
            tar.dir(directory)
        tar.file(full, data, mode)


def many_small_layers(work: Path) -> tuple[list[Path], list[str], int]:
    """Layer tars of many small files: the tree under usr/ and then under opt/venvN/ (one layer
    each); a layer deleting one copy (whiteout), another's include/ (opaque marker) and every
    20th file of a third, and re-storing every 4th file of usr/ with a chmod; a layer
    overwriting every 10th file of a fourth copy. Returns (tars, steps, entries)."""
    files = small_files()
    tars, steps, entries = [], [], 0

    def layer(step: str) -> TarWriter:
        steps.append(step)
        return TarWriter(work / f"layer{len(tars)}.tar")

    def done(tar: TarWriter) -> None:
        nonlocal entries
        tars.append(tar.close())
        entries += tar.entries

    for copy in range(SMALL_COPIES - 1):
        tar = layer(f"/bin/sh -c #(nop) COPY tree {copy}")
        _store(tar, files, "" if copy == 0 else f"opt/venv{copy}/")
        done(tar)
    tar = layer("/bin/sh -c rm -rf /opt/venv2 /opt/venv3/usr/include/* && chmod 600 ...")
    tar.whiteout("opt/venv2")
    tar.opaque("opt/venv3/usr/include")
    for path, _ in files[::20]:
        tar.whiteout(f"opt/venv5/{path}")
    _store(tar, files[::4], "", mode=0o600)
    done(tar)
    tar = layer("/bin/sh -c overwrite some files")
    _store(tar, [(path, data + b"# changed\n") for path, data in files[::10]], "opt/venv4/")
    done(tar)
    tar = layer(f"/bin/sh -c #(nop) COPY tree {SMALL_COPIES - 1}")
    _store(tar, files, f"opt/venv{SMALL_COPIES - 1}/")
    done(tar)
    average = sum(len(data) for _, data in files) / max(len(files), 1)
    print(f"{len(files)} small files (average {average:.0f} bytes)")
    return tars, steps, entries


MILLION_TREES = 3  # layers of a deep tree each: 100 x 30 directories of 96 files
WIDE = 117_096  # files of one directory, in the last layer (1,000,000 entries in all)


def million_layers(work: Path) -> tuple[list[Path], list[str], int]:
    """About 1,000,000 entries: three layers of deep trees (every 4th file holds a few bytes,
    the rest are empty), then a layer with one directory of 117,096 files, a path 60
    directories deep, an opaque marker over one tree's subdirectory and 10,000 files of the
    first tree re-stored with a chmod."""
    tars, steps, entries = [], [], 0
    for i in range(MILLION_TREES):
        tar = TarWriter(work / f"layer{i}.tar")
        for a in range(100):
            tar.dir(f"t{i}/a{a:02}")
            for b in range(30):
                tar.dir(f"t{i}/a{a:02}/b{b:02}")
                for n in range(96):
                    tar.file(f"t{i}/a{a:02}/b{b:02}/f{n:02}", b"%d %d %d\n" % (a, b, n) if n % 4 == 0 else b"")
        tars.append(tar.close())
        steps.append(f"/bin/sh -c make tree {i}")
        entries += tar.entries
    tar = TarWriter(work / f"layer{MILLION_TREES}.tar")
    tar.dir("wide")
    for n in range(WIDE):
        tar.file(f"wide/file-{n:06}", b"")
    deep = "/".join(f"d{n}" for n in range(60))
    tar.dir(deep)
    tar.file(f"{deep}/bottom", b"deep\n")
    tar.opaque("t1/a05")
    for a in range(100):
        for b in range(0, 30, 10):
            for n in range(0, 96, 3):
                tar.file(f"t0/a{a:02}/b{b:02}/f{n:02}", b"%d %d %d\n" % (a, b, n) if n % 4 == 0 else b"", 0o600)
    tars.append(tar.close())
    steps.append("/bin/sh -c make a wide directory")
    return tars, steps, entries + tar.entries


def write_special(kind: str, outdir: Path) -> None:
    if kind == "many-layers":
        from benchmarks.many_layers import write_image

        path = write_image(outdir / "layers-5000.tar", 5000)
        print(f"5000 one-file gzip layers -> {path}")
        return
    with tempfile.TemporaryDirectory(dir=outdir) as work:
        make = {"many-small": many_small_layers, "million": million_layers, "debian": debian_layers}[kind]
        tars, steps, entries = make(Path(work))
        write_forms(tars, steps, outdir, kind, oci=kind != "million")
    print(f"{entries} entries in {len(tars)} layers -> {outdir}/{kind}.*.tar")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--root", type=Path, default=Path("/usr"))
    parser.add_argument("--size-mb", type=int, default=600, help="uncompressed content budget (default 600)")
    parser.add_argument("--max-files", type=int, default=25_000)
    parser.add_argument("--huge", action="store_true", help="about 4 GB and 120k files")
    special = parser.add_mutually_exclusive_group()
    for kind in ("many-small", "million", "many-layers", "debian"):
        special.add_argument(f"--{kind}", dest="special", action="store_const", const=kind)
    args = parser.parse_args()
    if args.special:
        args.outdir.mkdir(parents=True, exist_ok=True)
        write_special(args.special, args.outdir)
        return
    max_file = MAX_FILE
    if args.huge:
        args.size_mb, args.max_files, max_file = 4000, 120_000, MAX_FILE_HUGE
    args.outdir.mkdir(parents=True, exist_ok=True)
    files = collect(args.root, args.size_mb << 20, args.max_files, max_file)
    tag = "huge" if args.huge else "big"
    with tempfile.TemporaryDirectory(dir=args.outdir) as work:
        tars = write_layers(files, args.root, Path(work))
        steps = [f"/bin/sh -c #(nop) ADD part {i} of the tree" for i in range(len(tars) - 2)]
        steps += ["/bin/sh -c rm -rf a directory && chmod 600 some files", "/bin/sh -c overwrite some files"]
        write_forms(tars, steps, args.outdir, tag)
    print(f"{len(files)} files from {args.root} in {LAYERS} layers -> {args.outdir}/{tag}.*.tar")


if __name__ == "__main__":
    main()
