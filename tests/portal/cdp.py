"""A small Chrome DevTools Protocol client: one headless Chromium page a test can drive.

Chromium starts with ``--remote-debugging-port=0`` and a fresh profile; the port it picked is read
from the profile's ``DevToolsActivePort``. The test then navigates, clicks, types and reads the
page through ``Runtime.evaluate`` over the page's websocket (``websockets``, installed with
Prefect). Waiting is always a polled condition with a deadline.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.browser import FLAGS


class Page:
    """The one page of a headless Chromium, driven over CDP."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One CDP command; its result (events arriving meanwhile are skipped)."""
        command_id = next(self._ids)
        self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == command_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (None while it navigates away)."""
        try:
            result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        except RuntimeError:  # the context went away mid-navigation
            return None
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def goto(self, url: str) -> None:
        """Open ``url`` and wait until the new document (after any redirects) has loaded."""
        self.mark()
        self.send("Page.navigate", url=url)
        self.wait_for_new_page()

    def mark(self) -> None:
        """Tag the current document, so :meth:`wait_for_new_page` can tell when another replaced it."""
        self.evaluate("window.__trestleSeen = true")

    def wait_for_new_page(self, timeout: float = 30.0) -> None:
        self.wait_for("!window.__trestleSeen && document.readyState === 'complete'", timeout, "the next page")

    def wait_for(self, condition: str, timeout: float = 30.0, what: str | None = None) -> Any:
        """Poll a JavaScript condition until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(f"(() => {{ try {{ return {condition}; }} catch (e) {{ return null; }} }})()")
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {timeout:.0f} s for {what or condition}; page {self.url}:\n{self.text()[:2000]}"
                )
            time.sleep(0.2)

    def click(self, selector: str, *, navigates: bool = True) -> None:
        """Click the element (as a person would: it is focused first); by default wait for the next page."""
        if navigates:
            self.mark()
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            " e.focus(); e.click(); return true; })()"
        )
        assert found, f"no element {selector!r} on {self.url}:\n{self.text()[:2000]}"
        if navigates:
            self.wait_for_new_page()

    def fill(self, selector: str, value: str) -> None:
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false;"
            f" e.focus(); e.value = {json.dumps(value)}; return true; }})()"
        )
        assert found, f"no field {selector!r} on {self.url}"

    def press_tab(self) -> None:
        """One Tab key press, as the keyboard sends it."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    @property
    def url(self) -> str:
        return self.evaluate("location.href") or ""

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page (up to 4000 px tall)."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000), "scale": 1}
        data = self.send("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)


@contextlib.contextmanager
def chromium_page(executable: str, timeout: float = 30.0) -> Iterator[Page]:
    """A headless Chromium with one blank page; everything it started is gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="trestle-cdp-") as profile:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.exists() and port_file.read_text().strip()):
                assert process.poll() is None, f"Chromium exited with {process.returncode}"
                assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            page_target = next(target for target in targets if target.get("type") == "page")
            with connect(page_target["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout) as socket:
                page = Page(socket)
                page.send("Page.enable")
                page.send("Runtime.enable")
                yield page
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
