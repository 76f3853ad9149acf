"""Debian's Chromium driven by Playwright (its own browser download is not used here)."""

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])
