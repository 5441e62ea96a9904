"""Screenshot a report page with headless Chromium, to check by eye (and in CI) that it renders.

    python scripts/screenshot_report.py ganbench_output/report/report.html report.png

Needs Chromium (Debian: ``apt-get install chromium``); runs offline, with a throwaway profile.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1400, 2000), timeout: float = 60.0) -> Path:
    """Render ``page`` and write a ``size`` screenshot to ``png``; raises RuntimeError when Chromium fails."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError(
            f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)}); apt-get install chromium"
        )
    png = png.resolve()
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="ganbench-chromium-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={size[0]},{size[1]}", page.resolve().as_uri()]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not png.exists():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"chromium exited {proc.returncode} without a screenshot: {tail}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the report.html to render")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--size", default="1400,2000", help="window width,height in pixels")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        parser.error(f"{args.page}: no such file")
    width, height = (int(v) for v in args.size.split(","))
    try:
        print(screenshot(args.page, args.png, (width, height)))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"screenshot_report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
