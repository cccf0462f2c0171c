"""Headless Chromium for tests that check what a browser makes of an HTML page: results/report.html built from a
constructed results directory (tests/test_report_page.py), or the real one of an end-to-end run.

A page can be well-formed HTML and still show nothing useful (a CSS rule that hides the body, a data URI that does
not decode), so these helpers render it: a screenshot that must not be blank, and the DOM after the load event, where
the report page's own script has counted the images the browser could not decode (``<body data-broken-images>``).
Without chromium the calling test is skipped, unless VAEPRIORS_REQUIRE_CHROMIUM=1 (as .ci/run sets): then it fails.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REQUIRED = os.environ.get("VAEPRIORS_REQUIRE_CHROMIUM") == "1"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 1600)


def chromium() -> str:
    """The browser's executable; skips the test without one (fails it when VAEPRIORS_REQUIRE_CHROMIUM=1)."""
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None:
        message = "no chromium on PATH (Debian: apt-get install chromium)"
        if REQUIRED:
            pytest.fail(message + ", but VAEPRIORS_REQUIRE_CHROMIUM=1")
        pytest.skip(message + "; VAEPRIORS_REQUIRE_CHROMIUM=1 makes this a failure")
    return found


def headless(html_path, *options) -> str:
    """Run chromium headless on the page with ``options`` (a fresh profile; --no-sandbox for root in containers);
    its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        command = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   f"--user-data-dir={profile}", *options, Path(html_path).resolve().as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout


def dom_after_load(html_path) -> str:
    """The DOM once the page has loaded and its scripts have run (5 s of virtual time)."""
    return headless(html_path, "--dump-dom", "--virtual-time-budget=5000")


def check_in_browser(html_path, screenshot_path) -> str:
    """Render the page: its screenshot (``screenshot_path``, kept for a human to look at) must not be one flat colour
    and no image may be broken; returns the DOM after load for the caller's own checks."""
    screenshot_path = Path(screenshot_path)
    screenshot_path.parent.mkdir(parents=True, exist_ok=True)
    screenshot_path.unlink(missing_ok=True)
    headless(html_path, f"--screenshot={screenshot_path}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    pixels = np.asarray(Image.open(screenshot_path).convert("RGB"))
    assert pixels.shape == (WINDOW[1], WINDOW[0], 3), pixels.shape
    assert (pixels != pixels[0, 0]).any(), f"{screenshot_path}: the page renders blank"
    dom = dom_after_load(html_path)
    assert 'data-broken-images="0"' in dom, ("the page's load check did not run or found broken images: "
                                             + dom[dom.find("<body"):][:500])
    return dom
