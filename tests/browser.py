"""Headless Chromium for the trace page's tests, through Selenium and chromedriver.

The browser is Debian's (``apt-get install chromium chromium-driver``), never a
build that downloads itself: CI has no internet. ``BROWSER_MISSING`` is the
reason the browser tests skip, or None where everything is installed.

Run as a script, ``python -m tests.browser docs/trace.png`` takes the screenshot
of the worked example's page that the docs show.
"""

import contextlib
import importlib.util
import shutil
import sys
import tempfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

# No network is reachable: these keep Chromium from trying (and logging each
# refused connection) for updates, sync, QUIC and first-run pages.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's small /dev/shm crashes tabs
)


def _missing():
    if importlib.util.find_spec("selenium") is None:
        return 'selenium is not installed: pip install -e ".[browser]"'
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "chromium or chromedriver is not installed:"
            " apt-get install chromium chromium-driver"
        )
    return None


BROWSER_MISSING = _missing()


@contextlib.contextmanager
def chromium(width=1200, height=900, javascript=True):
    """Yield a Selenium driver of a fresh headless Chromium, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        if not javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2}
            )
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        try:
            yield driver
        finally:
            driver.quit()


def press(driver, key, times=1):
    """Press ``key`` (a ``selenium.webdriver.common.keys.Keys``) on the page."""
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(driver)
    for _ in range(times):
        actions.send_keys(key)
    actions.perform()


def docs_screenshot(path, step=13):
    """Save the worked example's network and stepper at ``step`` as a PNG."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from loopnet.trace import worked_trace

    with tempfile.TemporaryDirectory() as folder:
        page = f"{folder}/trace.html"
        with open(page, "w", encoding="utf-8") as f:
            f.write(worked_trace().to_html())
        with chromium(width=1200, height=1000) as driver:
            driver.get(f"file://{page}")
            press(driver, Keys.ARROW_RIGHT, step)
            workbench = driver.find_element(By.ID, "workbench")
            driver.execute_script("arguments[0].scrollIntoView()", workbench)
            workbench.screenshot(path)


if __name__ == "__main__":
    if BROWSER_MISSING:
        sys.exit(BROWSER_MISSING)
    docs_screenshot(sys.argv[1])
