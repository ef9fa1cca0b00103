"""An image: its config and layers (known at once), then its contents (after `analyse`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..archive.config import HistoryEntry, ImageConfig, align_history, parse_config
from ..archive.entries import FILE, OPAQUE, WHITEOUT, Row
from ..archive.errors import CorruptBlob, ImageError
from ..archive.layerscan import SMALL_BLOB, LayerScan
from ..archive.limits import DEFAULT_LIMITS, Limits
from ..archive.manifests import ImageRef, LayerRef, find_images, select_image
from ..archive.pool import PARALLEL_MIN_BYTES, release_spares, scan_in_workers, worker_count
from ..archive.sources import Progress, Source, open_source
from .collector import collector_paused
from .dive_compat import DiveAccumulator, DiveEntry
from .filesystem import CHANGE_KINDS, FileSystem
from .waste import Waste, compute_waste

LayerProgress = Callable[[int, int, int], None]  # (layer index, blob bytes read, blob size)


@dataclass
class Layer:
    """One layer: what the manifest and config say at once, and what its scan found later."""

    index: int
    ref: LayerRef
    diff_id: str | None
    history: HistoryEntry | None
    blob_size: int
    scan: LayerScan | None = None  # its rows are released once stacked
    change_counts: dict[str, int] = field(default_factory=dict)
    content_bytes: int = 0  # bytes of regular-file content this layer stores
    entry_counts: dict[str, int] = field(default_factory=dict)  # tar entries by kind

    @property
    def digest(self) -> str | None:
        return self.ref.digest

    @property
    def created_by(self) -> str:
        return self.history.created_by if self.history else ""

    @property
    def instruction(self) -> str:
        return self.history.instruction if self.history else ""

    @property
    def tar_size(self) -> int | None:
        return self.scan.tar_size if self.scan else None


class Image:
    """An image chosen from an archive. `open` reads only metadata; `analyse` reads the layers."""

    def __init__(
        self,
        path: str,
        source: Source,
        ref: ImageRef,
        config: ImageConfig,
        verify: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        dive: bool = False,
    ) -> None:
        if len(ref.layers) > limits.max_layers:
            raise ImageError(f"{len(ref.layers)} layers, more than {limits.max_layers} (raise it with --max-layers)")
        self.path = path
        self.source = source
        self.ref = ref
        self.config = config
        self.verify = verify
        self.limits = limits
        self.entry_count = 0
        self.dive = DiveAccumulator() if dive else None  # dive's own figures, for `report`
        self.history = config.history
        per_layer = align_history(config.history, len(ref.layers))
        self.layers = [
            Layer(
                index=i,
                ref=layer_ref,
                diff_id=config.diff_ids[i] if i < len(config.diff_ids) else None,
                history=per_layer[i],
                blob_size=source.size(layer_ref.blob) if source.exists(layer_ref.blob) else (layer_ref.size or 0),
            )
            for i, layer_ref in enumerate(ref.layers)
        ]
        self.warnings: list[str] = list(ref.warnings)
        for layer in self.layers:
            declared = layer.ref.size
            if declared is not None and source.exists(layer.ref.blob) and declared != layer.blob_size:
                message = f"{self.label(layer)}: blob is {layer.blob_size} bytes, its descriptor says {declared}"
                if verify:
                    raise CorruptBlob(message)
                self.warnings.append(message)
        if config.diff_ids and len(config.diff_ids) != len(ref.layers):
            self.warnings.append(
                f"the manifest lists {len(ref.layers)} layers but the config has {len(config.diff_ids)} diff_ids"
            )
        self.fs = FileSystem()
        self.waste: Waste | None = None

    @classmethod
    def open(
        cls,
        path: str,
        platform: str | None = None,
        image: str | None = None,
        verify: bool = False,
        on_read: Progress | None = None,
        limits: Limits = DEFAULT_LIMITS,
        dive: bool = False,
    ) -> Image:
        """Read the manifest and config of the chosen image (for `-` or a compressed archive,
        the whole archive in one pass; `on_read(bytes)` reports that pass)."""
        try:
            source = open_source(path, on_read, verify, limits)
            try:
                ref = select_image(find_images(source), platform, image)
                source.retain([layer.blob for layer in ref.layers])
                config = parse_config(source.read_json(ref.config_blob), ref.config_digest or ref.config_blob)
                if platform and not ref.platform and config.platform and not _same_platform(platform, config.platform):
                    raise ImageError(f"platform {platform} not found; the archive has: {config.platform}")
                return cls(path, source, ref, config, verify, limits, dive)
            except BaseException:
                source.close()
                raise
        except BaseException:
            release_spares()  # workers started for this path (`parallel.prestart`): none will scan
            raise

    @property
    def analysed(self) -> bool:
        return self.waste is not None

    @property
    def names(self) -> list[str]:
        return self.ref.names

    @property
    def platform(self) -> str:
        return self.ref.platform or self.config.platform

    @property
    def compressed_size(self) -> int:
        return sum(layer.blob_size for layer in self.layers)

    def label(self, layer: Layer) -> str:
        return layer.digest or layer.ref.blob

    def scan(self, index: int, on_progress: LayerProgress | None = None) -> LayerScan:
        """Read one layer's blob (does not change the image; safe in a worker process)."""
        layer = self.layers[index]
        callback = (lambda done: on_progress(index, done, layer.blob_size)) if on_progress else None
        return self.source.scan(layer.ref.blob, self.label(layer), callback, self.verify, self.limits)

    def add_scan(self, index: int, scan: LayerScan) -> None:
        """Stack layer `index` (layers must come in order) onto the filesystem."""
        for _ in self.stack_steps(index, scan):
            pass

    def stack_steps(self, index: int, scan: LayerScan) -> Iterator[None]:
        """`add_scan` in slices (see `FileSystem.stack_in_slices`). The layer counts as scanned
        (its `scan` is set) once all of it is stacked."""
        with collector_paused():
            yield from self._stack_steps(index, scan)

    def _stack_steps(self, index: int, scan: LayerScan) -> Iterator[None]:
        layer = self.layers[index]
        if self.verify:
            self._check_digests(layer, scan)
        rows = scan.rows
        self.entry_count += len(rows)
        if self.entry_count > self.limits.max_entries:
            raise ImageError(f"more than {self.limits.max_entries} entries in all (raise it with --max-entries)")
        layer.content_bytes = sum(row[2] for row in rows if row[1] == FILE)
        layer.entry_counts = dict(Counter(row[1] for row in rows))
        if self.dive is not None:
            self.dive.add_layer(_dive_entries(rows), layer.content_bytes)
        self.warnings.extend(scan.warnings)
        before = len(self.fs.warnings)
        yield from self.fs.stack_in_slices(index, scan.entries())
        self.warnings.extend(f"layer {index}: {w}" for w in self.fs.warnings[before:])
        counts = Counter(c.kind for c in self.fs.layer_changes[index])
        layer.change_counts = {k: counts.get(k, 0) for k in CHANGE_KINDS}
        scan.rows = []  # stacked: the filesystem holds what is needed of them
        layer.scan = scan

    def finish(self) -> None:
        """Compute the waste once every layer is stacked."""
        with collector_paused():
            self.waste = compute_waste(self.fs)

    def scans(
        self, on_progress: LayerProgress | None = None, workers: int | None = None, largest_first: bool = False
    ) -> Iterator[tuple[int, LayerScan]]:
        """Scan every layer, in worker processes where the archive is a file on disk and large
        enough to gain from it; yield (index, scan) in layer order. `largest_first` starts
        the workers on the biggest blobs: all done sooner, the first layers later."""
        workers = worker_count() if workers is None else workers
        locations = [self.source.locate(layer.ref.blob) for layer in self.layers]
        # small blobs are cheaper to scan here than to hand to a worker and back
        big = sum(loc.size for loc in locations if loc and loc.size > SMALL_BLOB) >= PARALLEL_MIN_BYTES
        if workers < 2 or len(self.layers) < 2 or not big or None in locations:
            release_spares()  # started by the command line for a file that needs none
            for layer in self.layers:
                yield layer.index, self.scan(layer.index, on_progress)
            return
        jobs = [(loc, self.label(layer)) for loc, layer in zip(locations, self.layers, strict=True)]
        yield from scan_in_workers(jobs, self.verify, self.limits, on_progress, min(workers, len(jobs)), largest_first)

    def analyse(self, on_progress: LayerProgress | None = None, workers: int | None = None) -> None:
        """Read every layer, stack them in order, and account for waste (nothing is shown
        before the end, so the biggest layers are scanned first)."""
        with collector_paused():  # the scans that arrive are 100,000s of objects too
            for index, scan in self.scans(on_progress, workers, largest_first=True):
                self.add_scan(index, scan)
            self.finish()

    def _check_digests(self, layer: Layer, scan: LayerScan) -> None:
        label = self.label(layer)
        if layer.digest and scan.blob_sha256 and layer.digest != f"sha256:{scan.blob_sha256}":
            raise CorruptBlob(f"{label}: blob content does not match its digest (sha256:{scan.blob_sha256})")
        if layer.diff_id and scan.tar_sha256 and layer.diff_id != f"sha256:{scan.tar_sha256}":
            raise CorruptBlob(
                f"{label}: uncompressed layer does not match its diff_id {layer.diff_id} (sha256:{scan.tar_sha256})"
            )

    def close(self) -> None:
        self.source.close()


_TYPEFLAGS = {"f": b"0", "d": b"5", "l": b"2", "h": b"1", "p": b"6", "c": b"3", "b": b"4"}


def _dive_entries(rows: list[Row]) -> list[DiveEntry]:
    """A layer's tar entries as dive reads them (whiteouts and opaque markers by name)."""
    entries = []
    for path, kind, size, mode, *_ in rows:
        if kind == WHITEOUT:
            head, _, base = path.rpartition("/")
            entries.append(DiveEntry(f"{head}/.wh.{base}" if head else f".wh.{base}", b"0", 0))
        elif kind == OPAQUE:
            entries.append(DiveEntry(f"{path}/.wh..wh..opq" if path else ".wh..wh..opq", b"0", 0))
        else:
            entries.append(DiveEntry(path, _TYPEFLAGS.get(kind, b"0"), size if kind == FILE else 0, mode))
    return entries


def _same_platform(wanted: str, have: str) -> bool:
    w, h = wanted.split("/"), have.split("/")
    return w[:2] == h[:2] and (len(w) < 3 or len(h) < 3 or w[2] == h[2])


def load(
    path: str,
    platform: str | None = None,
    image: str | None = None,
    verify: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    dive: bool = False,
) -> Image:
    """Open and fully analyse an image archive (with dive's figures if `dive`)."""
    img = Image.open(path, platform, image, verify, limits=limits, dive=dive)
    img.analyse()
    return img
