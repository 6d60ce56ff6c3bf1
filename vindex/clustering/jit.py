"""UMAP's numba kernels: compiled once per machine, and its layout epoch without the GIL.

UMAP marks few of its numba functions `cache=True`, so by default every new process spends 7-25 s
compiling them. Switching the cache on makes that a one-off per machine: numba writes beside the
package's sources, or under the user's cache folder (or NUMBA_CACHE_DIR) when the package folder is
read-only. A tiny warm-up run compiles everything up front, so the user is told why the first run
pauses, and the JIT time is measured apart from the clustering. A marker file under
~/.cache/vindex remembers that this machine has compiled this numba/UMAP/Python combination.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from vindex.clustering.layout import approximate_neighbours, exact_neighbours, umap_layout
from vindex.results import StatusHook

_PREPARED: dict[str, object] = {}


def prepare_umap(say: StatusHook, dim: int, needs_pynndescent: bool = False):
    """The `umap` module with numba's on-disk cache on for its kernels, compiled (once) for `dim`-d input."""
    if "umap" in _PREPARED and (not needs_pynndescent or "pynndescent" in _PREPARED):
        return _PREPARED["umap"]
    first_time = not compiled_marker().exists()
    if first_time:
        say("compiling UMAP's numba kernels: first run on this machine only, about 20-60 s (cached afterwards)")
    elif needs_pynndescent:
        say("compiling pynndescent's neighbour search (about 10 s, once per process)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import umap
        import umap.layouts

        if "umap" not in _PREPARED:
            _layouts_without_gil(umap.layouts)
            _enable_numba_cache(("umap", "pynndescent"))
        _warm_up(umap, dim, needs_pynndescent)
    if first_time:
        _remember_compiled()
    _PREPARED["umap"] = umap
    if needs_pynndescent:
        _PREPARED["pynndescent"] = True
    return umap


def _layouts_without_gil(layouts) -> None:
    """Compile UMAP's single-threaded layout epoch with `nogil`, so two layouts run in parallel.

    A copy of the function under its own name keeps numba's cache for it apart from UMAP's own.
    Left as it is when UMAP's internals differ from the version this was written against.
    """
    import types

    import numba

    if not hasattr(layouts, "_nb_optimize_layout_euclidean_single_epoch"):
        return
    original = getattr(layouts, "_optimize_layout_euclidean_single_epoch", None)
    if not isinstance(original, types.FunctionType):
        return
    copy = types.FunctionType(original.__code__, original.__globals__, original.__name__,
                              original.__defaults__, original.__closure__)
    copy.__qualname__ = "vindex_nogil_" + original.__qualname__
    compiled = numba.njit(copy, fastmath=True, parallel=False, nogil=True)
    try:
        compiled.enable_caching()
    except Exception:  # no writable cache location: it still works, compiled once per process
        pass
    layouts._nb_optimize_layout_euclidean_single_epoch = compiled


def _enable_numba_cache(packages: tuple[str, ...]) -> None:
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(packages):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                try:
                    value.enable_caching()
                except Exception:  # a function numba cannot cache still works, just uncached
                    pass


def _warm_up(umap, dim: int, needs_pynndescent: bool) -> None:
    """Run every kernel a clustering run needs once, on a few random points."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(64, dim)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    umap_layout(umap, points, exact_neighbours(points, 8, "cosine"), 2, 0.0, "cosine", 0)
    if needs_pynndescent:
        approximate_neighbours(rng.normal(size=(300, dim)).astype(np.float32), 8, "cosine", 0)


def compiled_marker() -> Path:
    """The file whose presence says this machine has compiled these numba, UMAP and Python versions."""
    import numba

    try:
        from importlib.metadata import version

        umap_version = version("umap-learn")
    except Exception:
        umap_version = "unknown"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vindex"
    tag = f"numba{numba.__version__}-umap{umap_version}-py{sys.version_info[0]}{sys.version_info[1]}"
    return base / f"compiled-{tag}"


def _remember_compiled() -> None:
    try:
        marker = compiled_marker()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass
