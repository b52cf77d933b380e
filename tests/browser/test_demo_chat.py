"""A real browser proves the demo: Debian's headless Chromium opens the demo's chat page twice,
a message typed in one page appears in the other (relayed by the Redis channel layer), and a
screenshot of both is saved.

Run by `make browser-test` (scripts/browser-test.sh), which deploys the demo first and installs
chromium and chromium-driver from Debian. DEMO_URL is the demo's URL (http://127.0.0.1:8080/).
"""

import os
import pathlib
import time
import uuid

import pytest

# Imported, not importorskip'ed: selenium is pinned in requirements.txt, and a broken install must
# fail the check rather than skip it.
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

DEMO_URL = os.environ.get("DEMO_URL", "http://127.0.0.1:8080/")
SHOTS = pathlib.Path(os.environ.get("BROWSER_SHOTS", ".cache/browser"))


def _browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    # The machine's network is closed: no background traffic, no component updates.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=900,700"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def _join(driver, room):
    driver.get(DEMO_URL)
    room_input = driver.find_element(By.ID, "room-name")
    room_input.clear()
    room_input.send_keys(room)
    driver.find_element(By.ID, "room-join").click()
    WebDriverWait(driver, 20).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-status") == "connected"
    )


@pytest.fixture
def two_pages():
    first, second = _browser(), _browser()
    yield first, second
    first.quit()
    second.quit()


def test_message_typed_in_one_page_appears_in_the_other(two_pages):
    first, second = two_pages
    room = "browser-%s" % uuid.uuid4().hex[:8]
    _join(first, room)
    _join(second, room)
    text = "hello from the first page %s" % uuid.uuid4().hex[:6]
    first.find_element(By.ID, "chat-message-input").send_keys(text)
    started = time.monotonic()
    first.find_element(By.ID, "chat-message-submit").click()
    WebDriverWait(second, 10).until(expected_conditions.text_to_be_present_in_element((By.ID, "chat-log"), text))
    elapsed = time.monotonic() - started
    SHOTS.mkdir(parents=True, exist_ok=True)
    first.save_screenshot(str(SHOTS / "demo-chat-sender.png"))
    second.save_screenshot(str(SHOTS / "demo-chat-receiver.png"))
    print("message crossed between the pages in %.2f s; screenshots in %s" % (elapsed, SHOTS))
    assert text in second.find_element(By.ID, "chat-log").text
