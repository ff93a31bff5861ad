"""The demo Space in a real browser: headless Debian Chromium, driven over the DevTools protocol, searches a code, runs
a generation and saves screenshots. The protocol goes over --remote-debugging-pipe (NUL-terminated JSON on the
browser's fds 3 and 4), so the client is the standard library only."""

import base64
import json
import os
import select
import shutil
import subprocess
import time

import pytest

CHROMIUM = shutil.which("chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1500",
    "--remote-debugging-pipe",
)

QUERY = "остррый бронхит"  # a typo; the best hit (J20) has symptoms, so the picture shows a neighbourhood
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")


class Chromium:
    """A headless browser with one page; ``js`` evaluates an expression there, ``wait`` polls one until truthy."""

    def __init__(self, profile, log, failure_png):
        to_browser, self._in = os.pipe()
        self._out, from_browser = os.pipe()
        # The browser reads commands on fd 3 and writes replies on fd 4.
        cmd = [
            "bash",
            "-c",
            f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}',
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(cmd, pass_fds=(to_browser, from_browser), stdout=log, stderr=log)
        os.close(to_browser)
        os.close(from_browser)
        self._id, self._buffer, self.session, self.failure_png = 0, b"", None, failure_png
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.send("Page.enable")

    def send(self, method, timeout=60, **params):
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._in, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buffer:
                if not select.select([self._out], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    raise TimeoutError(f"no reply to {method} in {timeout} s")
                chunk = os.read(self._out, 1 << 20)
                if not chunk:
                    raise ConnectionError(f"the browser closed the pipe (exit code {self.proc.poll()})")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:  # anything else is an event
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def js(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression, timeout=90):
        deadline = time.monotonic() + timeout
        while not (value := self.js(expression)):
            if time.monotonic() > deadline:
                page = self.screenshot(self.failure_png)
                raise TimeoutError(f"still false after {timeout} s: {expression} (the page: {page})")
            time.sleep(0.25)
        return value

    def click(self, selector):
        """A real mouse click in the middle of the element (scrolled into view first)."""
        box = self.wait(f"""(() => {{
            const e = {selector}; if (!e) return null; e.scrollIntoView({{block: "center"}});
            const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def type(self, selector, text):
        """Real key input into the element; retyped if the page was still re-rendering it."""
        deadline = time.monotonic() + 30
        while self.js(f"{selector}.value") != text and time.monotonic() < deadline:
            self.click(selector)
            self.js(f"{selector}.select()")
            self.send("Input.insertText", text=text)
            time.sleep(0.5)
        self.wait(f"{selector}.value == {json.dumps(text)}", timeout=1)

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, TimeoutError, ConnectionError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture
def browser(tmp_path):
    with open(tmp_path / "chromium.log", "wb") as log:
        chromium = Chromium(tmp_path / "profile", log, tmp_path / "failure.png")
    yield chromium
    chromium.close()


def q(css: str) -> str:
    return f"document.querySelector({json.dumps(css)})"


def test_search_and_generate_in_a_browser(browser, space_url, kg, tmp_path):
    browser.send("Page.navigate", url=space_url)
    browser.wait(f"!!{q('#query textarea')}")

    browser.type(q("#query textarea"), QUERY)
    browser.click(q("#search-btn"))
    best = kg.search(QUERY)[0][0]
    browser.wait(f"{q('#hierarchy')}?.innerText.includes('{best} {kg.code(best)['name_ru']}')")
    assert browser.js(f"{q('#code textarea')}.value") == best
    assert browser.wait(f"{q('#hits')}?.innerText.includes({json.dumps(kg.code(best)['name_ru'])})")
    assert browser.wait(f"{q('#picture img')}?.naturalWidth") == 800  # the neighbourhood picture arrived
    search_png = browser.screenshot(tmp_path / "space-search.png")

    browser.click("[...document.querySelectorAll('button[role=tab]')].find(b => b.innerText.trim() == 'Generate')")
    browser.click(q("#generate-btn"))
    checks = browser.wait(f"{q('#checks')}?.innerText.includes('symptom_recall') && {q('#checks')}.innerText")
    note = browser.js(f"{q('#note textarea')}.value")
    assert note and "copy_ratio" in checks
    generate_png = browser.screenshot(tmp_path / "space-generate.png")

    for png in (search_png, generate_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    print(f"screenshots: {search_png} {generate_png}")
