"""dltheory.verify.cache at the edges: checksummed entries, corrupted files, unwritable or full cache directories."""

from __future__ import annotations

import errno
import json

import pytest

from dltheory.verify import cache, registry

CLAIM = "dln.learning_times"  # a cheap real claim (well under a second)


@pytest.fixture(scope="module")
def claim():
    return registry.get(CLAIM)


@pytest.fixture(scope="module")
def result(claim):
    return registry.run(claim, quick=True, seed=claim.seed)


def _entry(tmp_path):
    (path,) = tmp_path.glob("*.json")
    return path


def test_entry_carries_a_checksum_and_round_trips(tmp_path, claim, result):
    cache.store(claim, result, quick=True, cache_dir=tmp_path)
    entry = json.loads(_entry(tmp_path).read_text())
    assert set(entry) == {"sha256", "result"} and len(entry["sha256"]) == 64
    hit = cache.lookup(claim, quick=True, cache_dir=tmp_path)
    assert json.dumps(hit.to_dict()) == json.dumps(result.to_dict())


def _flip_a_digit(text: str) -> str:
    """Change one digit of the stored result, leaving valid JSON: bit rot the parser cannot see."""
    i = text.index('"result"')
    j = next(k for k in range(i, len(text)) if text[k] in "123456789")
    return text[:j] + ("1" if text[j] != "1" else "2") + text[j + 1 :]


@pytest.mark.parametrize(
    "corrupt, reason",
    [
        (_flip_a_digit, "checksum mismatch"),
        (lambda text: text[: len(text) // 2], "unparsable"),
        (lambda text: json.dumps(json.loads(text)["result"]), "unparsable"),  # an old, unchecksummed entry
        (lambda text: "\udcff", "unparsable"),
    ],
)
def test_corrupted_entry_is_reported_deleted_and_never_read(tmp_path, claim, result, corrupt, reason):
    cache.store(claim, result, quick=True, cache_dir=tmp_path)
    path = _entry(tmp_path)
    path.write_bytes(corrupt(path.read_text()).encode("utf-8", "surrogateescape"))
    with pytest.warns(cache.CacheWarning, match=f"corrupted cache entry .*{reason}"):
        assert cache.lookup(claim, quick=True, cache_dir=tmp_path) is None
    assert not path.exists()


def test_entry_of_another_claim_is_corrupt(tmp_path, claim, result):
    other = registry.get("dln.end_to_end")
    cache.store(claim, result, quick=True, cache_dir=tmp_path)
    _entry(tmp_path).rename(cache._path(other, True, tmp_path, other.seed))
    with pytest.warns(cache.CacheWarning, match="holds claim"):
        assert cache.lookup(other, quick=True, cache_dir=tmp_path) is None


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_full_or_unwritable_cache_warns_and_the_run_goes_on(tmp_path, monkeypatch, claim, result, err):
    def fail(path, data):
        raise OSError(err, "simulated")

    monkeypatch.setattr(cache, "atomic_write", fail)
    monkeypatch.setattr(registry, "run", lambda c, quick, seed: result)
    with pytest.warns(cache.CacheWarning, match="result not cached"):
        got, hit = cache.cached_run(claim, quick=True, cache_dir=tmp_path)
    assert got is result and not hit and list(tmp_path.iterdir()) == []


def test_check_cache_dir(tmp_path):
    assert cache.check_cache_dir(None) is None
    assert cache.check_cache_dir(tmp_path / "new" / "dir").is_dir()  # created
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match="cache_dir must be a directory"):
        cache.check_cache_dir(afile)
    with pytest.raises(ValueError, match="cache_dir .* cannot be created"):
        cache.check_cache_dir(afile / "sub")
    for bad in (1.0, b"bytes", "", ["a"]):
        with pytest.raises(TypeError, match="cache_dir"):
            cache.check_cache_dir(bad)
