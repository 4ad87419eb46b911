"""On-disk cache of claim results, keyed by a hash of (claim, parameters, seed, tier, code version).

Each entry is one JSON file ``<sha256>.json`` holding ``ClaimResult.to_dict()``. Writes are atomic (temp
file in the same directory, fsync, ``os.replace``), so an interrupted run never leaves a corrupt entry;
an entry that cannot be read or parsed anyway is treated as a miss and overwritten.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
from importlib import metadata
from pathlib import Path

from dltheory.verify import registry
from dltheory.verify.evidence import ClaimResult
from dltheory.verify.registry import Claim

__all__ = ["atomic_write", "cached_run", "code_version", "lookup", "package_version", "store"]

_CODE_PACKAGES = ("theory", "simulators", "verify")  # subpackages of dltheory whose sources key the cache


def package_version() -> str:
    """Installed version of the ``dltheory`` distribution, or ``"0+unknown"`` when not installed."""
    try:
        return metadata.version("dltheory")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _source_files() -> list[tuple[str, Path]]:
    """(package-relative path, file) for every library ``*.py`` file, tests and conftests excluded."""
    files = []
    for name in _CODE_PACKAGES:
        pkg = importlib.import_module(f"dltheory.{name}")
        for root in map(Path, pkg.__path__):
            for path in root.rglob("*.py"):
                if path.name.startswith("test_") or path.name == "conftest.py":
                    continue
                files.append((f"{name}/{path.relative_to(root).as_posix()}", path))
    return sorted(files)


def code_version() -> str:
    """``<package version>+<sha256 over the sorted paths and bytes of the theory/simulators/verify sources>``."""
    digest = hashlib.sha256()
    for rel, path in _source_files():
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{package_version()}+{digest.hexdigest()}"


def _key(claim: Claim, params: dict, seed: int, quick: bool) -> str:
    payload = json.dumps(
        {"claim": claim.id, "params": params, "seed": seed, "quick": quick, "code": code_version()},
        sort_keys=True,
        default=repr,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # os.open, not mkstemp: mode 0o666 under the umask, so the file gets the usual permissions (not 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load(path: Path, claim_id: str) -> ClaimResult | None:
    """The cached result at ``path``, or None if absent, unreadable, corrupt or for another claim."""
    try:
        result = ClaimResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return result if result.evidence.claim_id == claim_id else None


def _path(claim: Claim, quick: bool, cache_dir: str | os.PathLike, seed: int) -> Path:
    return Path(cache_dir) / f"{_key(claim, claim.params(quick), seed, quick)}.json"


def lookup(
    claim: Claim, *, quick: bool, cache_dir: str | os.PathLike | None, seed: int | None = None
) -> ClaimResult | None:
    """The cached result of ``claim`` for this tier, seed and code version, or None (miss or no cache)."""
    if cache_dir is None:
        return None
    return _load(_path(claim, quick, cache_dir, claim.seed if seed is None else int(seed)), claim.id)


def store(
    claim: Claim, result: ClaimResult, *, quick: bool, cache_dir: str | os.PathLike | None, seed: int | None = None
) -> None:
    """Store ``result`` atomically (no-op when ``cache_dir`` is None)."""
    if cache_dir is None:
        return
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    path = _path(claim, quick, cache_dir, claim.seed if seed is None else int(seed))
    atomic_write(path, json.dumps(result.to_dict()).encode())


def cached_run(
    claim: Claim, *, quick: bool, cache_dir: str | os.PathLike | None, seed: int | None = None
) -> tuple[ClaimResult, bool]:
    """Run ``claim`` through the cache; returns ``(result, from_cache)``.

    ``cache_dir=None`` disables the cache (always runs, stores nothing). On a miss the claim runs via
    :func:`dltheory.verify.registry.run` and its result is stored; exceptions from the claim propagate uncached.
    """
    seed = claim.seed if seed is None else int(seed)
    result = lookup(claim, quick=quick, cache_dir=cache_dir, seed=seed)
    if result is not None:
        return result, True
    result = registry.run(claim, quick=quick, seed=seed)
    store(claim, result, quick=quick, cache_dir=cache_dir, seed=seed)
    return result, False
