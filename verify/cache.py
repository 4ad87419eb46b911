"""On-disk cache of claim results, keyed by a hash of (claim, parameters, seed, tier, code version).

Each entry is one JSON file ``<sha256 key>.json`` holding ``{"sha256": <checksum>, "result":
ClaimResult.to_dict()}``, the checksum taken over the canonical JSON of the result. Writes are atomic (temp
file in the same directory, fsync, ``os.replace``), so an interrupted run never leaves a corrupt entry. An
entry that is corrupted anyway (bit rot, a truncated copy, an edit: unparsable, checksum mismatch, another
claim's result) is reported with a :class:`CacheWarning`, deleted and recomputed, never read as a result. A
cache that cannot be written (read-only or full disk) is reported with a :class:`CacheWarning` and the run goes
on uncached; :func:`check_cache_dir` refuses an unusable directory up front.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import warnings
from importlib import metadata
from pathlib import Path

from dltheory.theory._validate import InvalidType
from dltheory.verify import registry
from dltheory.verify.evidence import ClaimResult
from dltheory.verify.registry import Claim

__all__ = [
    "CacheWarning",
    "atomic_write",
    "cached_run",
    "check_cache_dir",
    "code_version",
    "lookup",
    "package_version",
    "store",
]


class CacheWarning(UserWarning):
    """A cache entry was corrupted (and is recomputed) or the cache could not be written (the run goes on)."""


def check_cache_dir(cache_dir) -> Path | None:
    """``cache_dir`` as a Path to an existing writable directory (created if missing), or None for no cache.

    Raises TypeError/ValueError naming ``cache_dir`` for a wrong type, a path that is a file, or a directory
    that cannot be created or written."""
    if cache_dir is None:
        return None
    if not isinstance(cache_dir, str | os.PathLike) or isinstance(cache_dir, bytes) or cache_dir == "":
        raise InvalidType(f"cache_dir must be a directory path (str or os.PathLike) or None, got {cache_dir!r}")
    path = Path(cache_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"cache_dir must be a directory, got the file {str(path)!r}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cache_dir {str(path)!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"cache_dir {str(path)!r} is not writable")
    return path


def _canonical(result: dict) -> bytes:
    return json.dumps(result, sort_keys=True, separators=(",", ":")).encode()


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
    """The cached result at ``path``, or None if absent, unreadable or corrupt (reported, the entry deleted)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.warn(f"cache entry {path} cannot be read ({exc.strerror or exc}); recomputing", CacheWarning, 2)
        return None
    try:
        entry = json.loads(raw)
        stored = entry["sha256"]
        payload = entry["result"]
        if hashlib.sha256(_canonical(payload)).hexdigest() != stored:
            raise ValueError("checksum mismatch")
        result = ClaimResult.from_dict(payload)
        if result.evidence.claim_id != claim_id:
            raise ValueError(f"holds claim {result.evidence.claim_id!r}, not {claim_id!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = (
            "unparsable"
            if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError) or not isinstance(exc, ValueError)
            else str(exc)
        )
        warnings.warn(f"corrupted cache entry {path} ({reason}); deleted and recomputed", CacheWarning, 2)
        path.unlink(missing_ok=True)
        return None
    return result


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
    """Store ``result`` atomically with its checksum (no-op when ``cache_dir`` is None). A cache that cannot be
    written (permissions, full disk) is reported with a :class:`CacheWarning`; nothing is raised."""
    if cache_dir is None:
        return
    path = _path(claim, quick, cache_dir, claim.seed if seed is None else int(seed))
    payload = result.to_dict()
    entry = {"sha256": hashlib.sha256(_canonical(payload)).hexdigest(), "result": payload}
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(entry).encode())
    except OSError as exc:
        warnings.warn(
            f"cannot write the cache entry {path} ({exc.strerror or exc}); result not cached", CacheWarning, 2
        )


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
