"""Write a large, realistic image without Docker, from a directory tree of this machine.

Files of ROOT (default /usr) are spread over several layers until the size budget is met;
later layers delete a directory (whiteout), re-store files with a chmod (same bytes again)
and overwrite some. The same layers are written (by the package's archive writer) as an OCI
archive with gzip layers, one with zstd layers, and a legacy docker-archive with plain tar
layers.

    python benchmarks/make_big_image.py OUTDIR [--size-mb 600] [--huge] [--root /usr]
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

from explorer.archive.writer import Image, Layer, LayerFile, write_docker_archive, write_oci  # noqa: E402

LAYERS = 6
DPKG = Path("/var/lib/dpkg")


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


def image_of(tars: list[Path], compression: str) -> Image:
    steps = [f"/bin/sh -c #(nop) ADD part {i} of the tree" for i in range(len(tars) - 2)]
    steps += ["/bin/sh -c rm -rf a directory && chmod 600 some files", "/bin/sh -c overwrite some files"]
    layers: list[Layer | LayerFile] = [LayerFile(tar, step, compression) for tar, step in zip(tars, steps, strict=True)]
    return Image(layers, config={"Cmd": ["/bin/sh"]}, tags=["bench/big:latest"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--root", type=Path, default=Path("/usr"))
    parser.add_argument("--size-mb", type=int, default=600, help="uncompressed content budget (default 600)")
    parser.add_argument("--max-files", type=int, default=25_000)
    parser.add_argument("--huge", action="store_true", help="about 4 GB and 120k files")
    args = parser.parse_args()
    max_file = MAX_FILE
    if args.huge:
        args.size_mb, args.max_files, max_file = 4000, 120_000, MAX_FILE_HUGE
    args.outdir.mkdir(parents=True, exist_ok=True)
    files = collect(args.root, args.size_mb << 20, args.max_files, max_file)
    tag = "huge" if args.huge else "big"
    with tempfile.TemporaryDirectory(dir=args.outdir) as work:
        tars = write_layers(files, args.root, Path(work))
        write_docker_archive(image_of(tars, "none"), args.outdir / f"{tag}.docker-archive.tar")
        write_oci(image_of(tars, "gzip"), args.outdir / f"{tag}.oci-gzip.tar")
        write_oci(image_of(tars, "zstd"), args.outdir / f"{tag}.oci-zstd.tar")
    print(f"{len(files)} files from {args.root} in {LAYERS} layers -> {args.outdir}/{tag}.*.tar")


if __name__ == "__main__":
    main()
