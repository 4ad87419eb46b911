"""The quick report as a reader sees it: rendered, opened in headless Chromium, screenshotted (slow tier)."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from dltheory.verify.cli import main

pytestmark = pytest.mark.slow

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    """Path of Chromium, installing Debian's chromium and chromium-driver first if it is missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and cannot be installed here (needs apt-get as root)")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"]):
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if proc.returncode != 0:
            pytest.skip(f"could not install chromium ({' '.join(cmd)}): {proc.stderr.strip()[-300:]}")
    return shutil.which("chromium") or pytest.skip("chromium installed but not on PATH")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        elif tag == "a" and a.get("href") and not a["href"].startswith(("#", "http")):
            self.hrefs.append(a["href"])


def test_quick_report_renders_in_chromium(tmp_path):
    import matplotlib.image

    chromium = _chromium()
    out = tmp_path / "report"
    # the repository's result cache: a clean checkout computes every claim, a warm one (after
    # `dltheory report`) renders from it; the numbers are the same either way (keyed by code version)
    cache = Path(__file__).resolve().parents[1] / "reports" / "_cache"
    assert main(["report", "--out", str(out), "--cache-dir", str(cache)]) in (0, 1)
    links = _Links()
    links.feed((out / "index.html").read_text())
    assert links.images, "the report shows no figure"
    for src in links.images:  # every figure exists and decodes as a non-empty image
        assert matplotlib.image.imread(out / src).shape[0] > 100, src
    assert all((out / href).is_file() for href in links.hrefs), [h for h in links.hrefs if not (out / h).is_file()]

    shot = tmp_path / "page.png"
    subprocess.run(
        [
            chromium,
            *_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1400,2400",
            (out / "index.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    pixels = matplotlib.image.imread(shot)[..., :3]
    ink = np.mean(np.any(pixels < 0.9, axis=-1))  # share of pixels that are not (near) white
    assert ink > 0.03 and pixels.std() > 0.05, f"the page looks blank (ink {ink:.3f})"
    if os.environ.get("DLTHEORY_SCREENSHOT"):  # keep it for a human to look at
        Path(os.environ["DLTHEORY_SCREENSHOT"]).write_bytes(shot.read_bytes())
