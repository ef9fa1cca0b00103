"""An image: its config and layers (known at once), then its contents (after `analyse`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING

from ..archive.config import HistoryEntry, ImageConfig, align_history, parse_config
from ..archive.entries import Row
from ..archive.errors import CorruptBlob, ImageError
from ..archive.layerscan import LayerScan
from ..archive.manifests import ImageRef, LayerRef, find_images, platform_matches, select_image
from ..archive.options import DEFAULT_OPTIONS, OpenOptions
from ..archive.pool import LayerBlob, LayerProgress, ScanPool
from ..archive.sources import Progress, Source, open_source
from .collector import collector_paused, release_freed
from .filesystem import CHANGE_KINDS, FileSystem, count_rows
from .waste import Waste, compute_waste

if TYPE_CHECKING:
    from ..archive.layercache import CachedScans, LayerCache
    from .packages import Packages

# What `Image.stack_steps` yields around its slices of the tree
PREPARED, TREE_DONE = "prepared", "tree done"


RELEASE_AFTER = 50_000  # entries of a layer after which the memory stacking freed is handed back


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
    from_cache: bool = False  # its scan came from the layer cache, not from its blob
    also_in: list[str] = field(default_factory=list)  # other images the layer cache saw it in

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


LayerHook = Callable[["Layer", Iterable[Row]], None]


class Image:
    """An image chosen from an archive. `open` reads only metadata; `analyse` reads the layers."""

    def __init__(
        self,
        path: str,
        source: Source,
        ref: ImageRef,
        config: ImageConfig,
        options: OpenOptions = DEFAULT_OPTIONS,
        pool: ScanPool | None = None,
    ) -> None:
        limits = options.limits
        if len(ref.layers) > limits.max_layers:
            raise ImageError(f"{len(ref.layers)} layers, more than {limits.max_layers} (raise it with --max-layers)")
        self.path = path
        self.source = source
        self.ref = ref
        self.config = config
        self.options = options
        self.pool = pool
        self.entry_count = 0
        # Called with each layer's tar entries as it is stacked, before they are released
        # (how `dive_compat.watch` gathers dive's figures).
        self.layer_hooks: list[LayerHook] = []
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
                if options.verify:
                    raise CorruptBlob(message)
                self.warnings.append(message)
        if config.diff_ids and len(config.diff_ids) != len(ref.layers):
            self.warnings.append(
                f"the manifest lists {len(ref.layers)} layers but the config has {len(config.diff_ids)} diff_ids"
            )
        self.fs = FileSystem()
        self.waste: Waste | None = None
        self.captured = 0  # package-metadata bytes the layers' scans kept (see archive/capture.py)
        self._packages: Packages | None = None
        self._cache: LayerCache | None = None
        self._cached: CachedScans | None = None
        self._cached_asked = False
        self._packages_lock = threading.Lock()  # the app's hints and packages workers both ask

    @classmethod
    def open(
        cls,
        path: str,
        options: OpenOptions = DEFAULT_OPTIONS,
        *,
        on_read: Progress | None = None,
        pool: ScanPool | None = None,
    ) -> Image:
        """Read the manifest and config of the chosen image (for `-` or a compressed archive,
        the whole archive in one pass; `on_read(bytes)` reports that pass).

        `pool` scans the layers (see `scans`); it is closed here if the image fails to open,
        since its workers were started for this path."""
        try:
            source = open_source(path, on_read, options.verify, options.limits)
            try:
                ref = select_image(find_images(source, path), options.platform, options.image)
                source.retain([layer.blob for layer in ref.layers])
                config = parse_config(source.read_json(ref.config_blob), ref.config_digest or ref.config_blob)
                wanted = options.platform
                if wanted and not ref.platform and config.platform and not platform_matches(wanted, config.platform):
                    raise ImageError(f"platform {wanted} not found; the archive has: {config.platform}")
                return cls(path, source, ref, config, options, pool)
            except BaseException:
                source.close()
                raise
        except BaseException:
            if pool is not None:
                pool.close()
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

    def add_scan(self, index: int, scan: LayerScan) -> None:
        """Stack layer `index` (layers must come in order) onto the filesystem, a batch of rows
        at a time as they are decoded, each batch gone once placed (no layer-long list of them:
        on a million entries, ~60 MB less at the peak than `stack_steps`)."""
        with collector_paused():
            layer = self._admit(index, scan)
            count = len(scan.rows)
            kinds: dict[str, int] = {}
            content = 0
            kept: list[list[Row]] | None = [] if self.layer_hooks else None  # the hooks take the whole layer

            def batches() -> Iterator[list[Row]]:
                nonlocal content
                for batch in scan.batches():
                    content += count_rows(batch, kinds)
                    if kept is not None:
                        kept.append(batch)
                    yield batch

            before = len(self.fs.warnings)
            for _ in self.fs.stack_batches(index, scan.hiding(), batches()):
                pass
            layer.content_bytes = content
            layer.entry_counts = kinds
            scan.rows = []  # the filesystem holds what it needs of them
            if kept is not None:  # the batches decoded above: packed rows would be decoded again
                for hook in self.layer_hooks:
                    hook(layer, chain.from_iterable(kept))
                del kept
            self._stacked(layer, scan, before, count)

    def stack_steps(self, index: int, scan: LayerScan) -> Iterator[str | None]:
        """`add_scan` in slices (see `FileSystem.stack_in_slices`). The layer counts as scanned
        (its `scan` is set) once all of it is stacked.

        The steps before `PREPARED` (the layer's entries made and counted) and after
        `TREE_DONE` (its changes counted, its rows let go) do per-entry work but leave the
        tree alone: a UI runs them in its loading thread, and only the slices in between on
        the thread that reads the tree."""
        with collector_paused():
            yield from self._stack_steps(index, scan)

    def _stack_steps(self, index: int, scan: LayerScan) -> Iterator[str | None]:
        layer = self._admit(index, scan)
        count = len(scan.rows)
        rows: list[Row] = []
        kinds: dict[str, int] = {}
        content = 0
        for batch in scan.batches():  # rows that came packed are decoded a batch at a time
            content += count_rows(batch, kinds)
            rows += batch
        layer.content_bytes = content
        layer.entry_counts = kinds
        for hook in self.layer_hooks:
            hook(layer, rows)  # decoded above: packed rows would be decoded again
        hiding = scan.hiding()  # a worker's rows come with them sorted out
        scan.rows = []  # decoded now (and the filesystem, once stacked, keeps what it needs)
        yield PREPARED
        before = len(self.fs.warnings)
        yield from self.fs.stack_in_slices(index, rows, hiding=hiding)
        del rows
        yield TREE_DONE
        self._stacked(layer, scan, before, count)

    def _admit(self, index: int, scan: LayerScan) -> Layer:
        """Layer `index`, its scan checked and counted before it is stacked."""
        layer = self.layers[index]
        if self.options.verify:
            self._check_digests(layer, scan)
        self.entry_count += len(scan.rows)
        max_entries = self.options.limits.max_entries
        if self.entry_count > max_entries:
            raise ImageError(f"more than {max_entries} entries in all (raise it with --max-entries)")
        if scan.warnings:
            self.warnings.extend(scan.warnings)
        capture = scan.capture
        if capture is not None:  # the budget is the image's: what lower layers kept counts
            left = self.options.limits.capture.budget - self.captured
            if capture.used > left:
                self.warnings.extend(f"layer {index}: {w}" for w in capture.limit_to(left))
            self.captured += capture.used
        return layer

    def _stacked(self, layer: Layer, scan: LayerScan, before: int, count: int) -> None:
        """Layer `layer` (`count` entries) is stacked (the filesystem's warnings from `before` on
        are its own): its changes counted."""
        fs = self.fs
        if len(fs.warnings) > before:
            self.warnings.extend(f"layer {layer.index}: {w}" for w in fs.warnings[before:])
        counts = dict.fromkeys(CHANGE_KINDS, 0)
        for change in fs.layer_changes[layer.index]:
            counts[change.kind] += 1
        layer.change_counts = counts
        layer.scan = scan
        if count >= RELEASE_AFTER:
            release_freed()

    def finish(self) -> None:
        """Compute the waste once every layer is stacked."""
        with collector_paused():
            self.waste = compute_waste(self.fs)

    def scans(
        self, on_progress: LayerProgress | None = None, largest_first: bool = False
    ) -> Iterator[tuple[int, LayerScan]]:
        """Scan every layer (the pool chooses how: see `ScanPool.scan`); yield (index, scan) in
        layer order. `largest_first` starts workers on the biggest blobs: all done sooner, the
        first layers later. Without a pool given to `open`, one is made for this scan."""
        pool = self.pool or ScanPool()
        cached = self.cached_layers()
        if cached is not None:
            _load(cached, self.layers)
            return cached.scans(pool, on_progress, largest_first)
        blobs = self._blobs()
        return pool.scan(self.source, blobs, self.options.verify, self.options.limits, on_progress, largest_first)

    def _blobs(self) -> list[LayerBlob]:
        return [LayerBlob(layer.ref.blob, self.label(layer), layer.blob_size) for layer in self.layers]

    def cached_layers(self) -> CachedScans | None:
        """What the layer cache knows of this image's layers (the keys of their records, not
        yet read: `scans` reads them); None without a cache."""
        if not self._cached_asked:
            self._cached_asked = True
            self._cached = through_cache([self], self.source, self._blobs(), load=False)
        return self._cached

    def layer_cache(self) -> LayerCache | None:
        """The user's layer cache when `options.cache` (else, or when unusable, None: said once
        in the warnings)."""
        if self.options.cache and self._cache is None:
            from ..archive.layercache import open_cache

            self._cache, why = open_cache()
            if self._cache is None:
                self.warnings.append(f"the layer cache is not used: {why}")
                self.options = self.options._replace(cache=False)
        return self._cache

    @property
    def cache_name(self) -> str:
        """How the layer cache names this image to others that share its layers."""
        if os.path.exists(self.path):
            where = os.path.realpath(self.path)  # one name for the file, however the path reaches it
            return f"{self.names[0]} ({where})" if self.names else where
        return self.names[0] if self.names else self.path

    def analyse(self, on_progress: LayerProgress | None = None) -> None:
        """Read every layer, stack them in order, and account for waste (nothing is shown
        before the end, so the biggest layers are scanned first)."""
        with collector_paused():  # the scans that arrive are 100,000s of objects too
            for index, scan in self.scans(on_progress, largest_first=True):
                self.add_scan(index, scan)
            self.finish()

    @property
    def packages(self) -> Packages:
        """The packages each layer installed, removed or upgraded, and the files they own
        (worked out on first use, from the metadata the scans kept)."""
        assert self.analysed, "analyse() the image first"
        with self._packages_lock:
            if self._packages is None:
                from .packages import find_packages

                self._packages = find_packages(self)
            return self._packages

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
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def through_cache(
    images: Sequence[Image], source: Source, blobs: list[LayerBlob], load: bool = True
) -> CachedScans | None:
    """The layer cache's scans of these images' layers (`blobs` of `source`, the layers of
    each image in turn), their layers marked with what the cache knows (with `load`: else the
    records are only found, not yet read); None without a cache."""
    cache = images[0].layer_cache()
    if cache is None:
        return None
    from ..archive.layercache import CachedScans, LayerKey

    layers = [layer for image in images for layer in image.layers]
    keys = [LayerKey(layer.digest, layer.diff_id) for layer in layers]
    names = [image.cache_name for image in images for _ in image.layers]
    options = images[0].options
    cached = CachedScans(cache, source, blobs, keys, names, options.verify, options.limits)
    if load:
        _load(cached, layers)
    return cached


def _resolved(cache_name: str) -> str | None:
    """A layer cache name with its archive's path resolved as `Image.cache_name` now makes it
    (a name kept before through a symlinked path is the same image); None once the archive
    named by its path is gone (an earlier `--demo`'s temporary archive, a deleted `docker
    save`). A registry's name stays as it is."""
    head, sep, tail = cache_name.rpartition(" (")
    where = tail[:-1] if sep and tail.endswith(")") else cache_name
    if not os.path.isabs(where):
        return cache_name
    if not os.path.exists(where):
        return None
    return f"{head} ({os.path.realpath(where)})" if sep and tail.endswith(")") else os.path.realpath(where)


def _load(cached: CachedScans, layers: Sequence[Layer]) -> None:
    """Read the records the cache holds, and mark the layers with them."""
    cached.load()
    for index, layer in enumerate(layers):
        layer.from_cache = index in cached.hits
        names = (_resolved(name) for name in cached.also_in.get(index, []))
        layer.also_in = [name for name in dict.fromkeys(names) if name is not None and name != cached.images[index]]


def load(path: str, options: OpenOptions = DEFAULT_OPTIONS, *, pool: ScanPool | None = None) -> Image:
    """Open and fully analyse an image archive."""
    img = Image.open(path, options, pool=pool)
    img.analyse()
    return img
