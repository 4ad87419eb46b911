"""The quick report as a reader sees it: rendered, opened in headless Chromium, screenshotted (slow tier)."""

from __future__ import annotations

import os
import re
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


_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")


def _chromium() -> str:
    """Path of a Chromium binary: $DLTHEORY_CHROMIUM, else the first of _BROWSERS on PATH; skip if there is none."""
    found = os.environ.get("DLTHEORY_CHROMIUM") or next(filter(None, map(shutil.which, _BROWSERS)), None)
    if not found:
        pytest.skip(
            f"no Chromium binary on this machine (none of {', '.join(_BROWSERS)} on PATH, DLTHEORY_CHROMIUM unset): "
            "install Chromium (e.g. apt-get install chromium) to render the report in a browser"
        )
    return found


# Appended to a copy of the page (it runs after the page is parsed; getBoundingClientRect forces layout): how many
# MathML elements there are and how many have a non-empty box, and by how many pixels the page is wider than the
# window (a table or formula that forces horizontal scrolling), in attributes that --dump-dom prints.
_MATH_PROBE = """<script>(function(){var m=document.querySelectorAll('math'),k=0;
m.forEach(function(e){var r=e.getBoundingClientRect();if(r.width>4&&r.height>4)k++;});
document.body.setAttribute('data-math',m.length+' '+k);
document.body.setAttribute('data-overflow',document.documentElement.scrollWidth-window.innerWidth);})();</script>"""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.hrefs: list[str] = []
        self.external: list[str] = []
        self.anchors: list[str] = []
        self.ids: set[str] = set()
        self.maths = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append(a["src"])
        elif tag == "math":
            self.maths += 1
        elif tag == "a" and a.get("href"):
            href = a["href"]
            (self.anchors if href.startswith("#") else self.external if "://" in href else self.hrefs).append(href)


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
    assert all(a[1:] in links.ids for a in links.anchors), [a for a in links.anchors if a[1:] not in links.ids]
    # the only external links are arXiv abstract pages (this machine may be offline: their form is checked)
    assert all(re.fullmatch(r"https://arxiv\.org/abs/[\w./-]+", u) for u in links.external), links.external
    assert links.maths > 0, "the report shows no formula"

    probe = out / "probe.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", _MATH_PROBE + "</body>"))
    dom = subprocess.run(
        [
            chromium,
            *_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,1000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'data-math="(\d+) (\d+)"', dom)
    assert found, "the layout probe did not run"
    n_math, laid_out = map(int, found.groups())
    assert n_math == links.maths and laid_out == n_math, f"{laid_out} of {n_math} MathML formulas have a layout box"
    overflow = re.search(r'data-overflow="(-?\d+)"', dom)
    assert overflow and int(overflow.group(1)) <= 0, (
        f"the page is {overflow and overflow.group(1)} px wider than the window"
    )

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
