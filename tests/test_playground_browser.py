"""The playground's page in a real browser: Debian's headless Chromium, driven by Selenium
through the system's chromedriver (nothing is downloaded). One browser session runs the
checks in order: the page draws the network and its + / - buttons redraw it; XOR with two
hidden layers of 4 tanh neurons trains below a test loss of 0.1 within 30 s while the
picture is redrawn at least 10 times a second; "show code" shows that network; and the
browser console has no errors. A screenshot is saved (to $FASTNN_PLAYGROUND_SCREENSHOT
when set: that is how docs/playground.png is made).

These tests skip, saying so, where chromium or chromedriver is absent (.ci/run installs
both); selenium and tornado come with the test extra.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import IN_CI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").is_file() else None
)
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "the browser tests need Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from fastnn.playground.server import background
except ImportError as missing:
    if IN_CI:
        raise  # the test extra brings selenium and tornado: CI must run these tests
    pytest.skip(f"the browser tests need selenium and tornado ({missing})", allow_module_level=True)

pytestmark = pytest.mark.slow  # about 10 s (a browser start, a few seconds of training)
WINDOW = (1400, 900)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with background() as server:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            driver.get(server.url)
            _wait(driver, lambda: _draws(driver) > 0, "the page's first picture")
            yield driver
        finally:
            driver.quit()


def _wait(driver, condition, what: str, seconds: float = 10):
    # the page redraws the controls it changes: an element found may go stale at once
    WebDriverWait(
        driver, seconds, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]
    ).until(lambda _: condition(), message=f"waiting for {what}")


def _draws(driver) -> int:
    return int(driver.find_element(By.ID, "boundary").get_attribute("data-draws"))


def _neurons(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, ".node.neuron"))


def _layer_sizes(driver) -> list[str]:
    return [head.text for head in driver.find_elements(By.CSS_SELECTOR, ".layer-head span")]


def test_the_layer_buttons_redraw_the_network(browser):
    assert _neurons(browser) == 4 + 2  # the defaults
    assert browser.find_element(By.ID, "layer-count").text.lower() == "2 hidden layers"
    links = len(browser.find_elements(By.CSS_SELECTOR, "#network path"))
    assert links == 2 * 4 + 4 * 2 + 2 * 1
    browser.find_element(By.ID, "add-layer").click()
    _wait(browser, lambda: _neurons(browser) == 8, "a third layer")
    assert browser.find_element(By.ID, "layer-count").text.lower() == "3 hidden layers"
    assert _layer_sizes(browser) == ["4 neurons", "2 neurons", "2 neurons"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#network path")) == links + 2 * 2
    browser.find_element(By.ID, "remove-layer").click()
    _wait(browser, lambda: _neurons(browser) == 6, "two layers again")


def test_xor_with_two_layers_of_four_tanh_neurons_learns_within_30_seconds(browser, tmp_path):
    browser.find_element(By.ID, "dataset-xor").click()
    _wait(browser, lambda: "selected" in _class(browser, "dataset-xor"), "XOR chosen")
    Select(browser.find_element(By.ID, "activation")).select_by_value("tanh")
    for expected in (3, 4):
        browser.find_element(By.ID, "layer-2-more").click()
        _wait(browser, lambda n=expected: _neurons(browser) == 4 + n, f"{expected} neurons")
    assert _layer_sizes(browser) == ["4 neurons", "4 neurons"]
    assert _neurons(browser) == 8

    browser.find_element(By.ID, "play").click()
    started, draws = time.monotonic(), _draws(browser)
    time.sleep(2.0)
    rate = (_draws(browser) - draws) / (time.monotonic() - started)
    assert rate >= 10, f"the picture was redrawn {rate:.1f} times a second while training"
    _wait(browser, lambda: _test_loss(browser) < 0.1, "a test loss below 0.1", seconds=28)
    assert time.monotonic() - started < 30
    epoch = int(browser.find_element(By.ID, "epoch").text.replace(",", ""))
    assert epoch > 0
    time.sleep(1.0)  # a little more training, for the picture
    _screenshot(browser, tmp_path)
    browser.find_element(By.ID, "play").click()  # pause
    _wait(
        browser,
        lambda: browser.find_element(By.ID, "play").get_attribute("aria-label") == "play",
        "paused",
    )


def test_show_code_gives_the_pages_network(browser):
    browser.find_element(By.ID, "show-code").click()
    _wait(browser, lambda: browser.find_element(By.ID, "code").text, "the code")
    code = browser.find_element(By.ID, "code").text
    assert code.count('fn.Dense(4, "tanh")') == 2 and 'fn.Dense(1, "sigmoid")' in code
    assert "fn.datasets.make_xor(500" in code
    browser.find_element(By.ID, "close-code").click()


def test_the_browser_console_has_no_errors(browser):
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def _class(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).get_attribute("class")


def _test_loss(driver) -> float:
    text = driver.find_element(By.ID, "test-loss").text
    try:
        return float(text)
    except ValueError:
        return float("inf")


def _screenshot(driver, folder: Path) -> None:
    target = Path(os.environ.get("FASTNN_PLAYGROUND_SCREENSHOT") or folder / "playground.png")
    assert driver.save_screenshot(str(target))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
