"""A real browser for the report tests: headless Chromium driven over the DevTools protocol.

Why the DevTools protocol rather than ``chromium --dump-dom`` after a virtual time budget: the
page is a 5 MB script plus a dozen plots, and on a busy machine neither a fixed time budget nor
a log format says when drawing has finished or what went wrong. Over the protocol the test
waits for the load event, then asks the page itself until every plot is drawn (or a deadline
passes), and it hears every console message, uncaught exception, browser log entry and network
request as an event, so "no console error" and "nothing loaded from the network" are checked
directly. Chromium runs with SwiftShader, its software renderer, so a plot that needs WebGL
draws as it would on a machine without a GPU.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-extensions",
    "--disable-background-networking",
    "--use-angle=swiftshader",  # WebGL on the software renderer, as on a machine with no GPU
    "--enable-unsafe-swiftshader",
    "--remote-debugging-port=0",
)

# Asked of the page: every figure div, whether plotly drew it, and what it drew.
_STATE = r"""
(() => {
  const out = [];
  document.querySelectorAll('[data-figure]').forEach(d => {
    const gl = [...d.querySelectorAll('canvas')].map(c => {
      const x = document.createElement('canvas'); x.width = c.width; x.height = c.height;
      if (!c.width || !c.height) return 0;
      const g = x.getContext('2d'); g.drawImage(c, 0, 0);
      const px = g.getImageData(0, 0, x.width, x.height).data; let k = 0;
      for (let i = 3; i < px.length; i += 4) if (px[i] > 0) k++;
      return k;
    });
    out.push({
      key: d.dataset.figure,
      plotly: d.classList.contains('js-plotly-plot'),
      svg: !!d.querySelector('.main-svg'),
      traces: (d._fullData || []).length,
      yaxes: Object.keys(d._fullLayout || {}).filter(k => /^yaxis\d*$/.test(k)).length,
      drawn: d.querySelectorAll('g.trace, g.parcoords, g.contourlayer path').length,
      gl: gl,
      text: d.innerText.slice(0, 200),
    });
  });
  return JSON.stringify({
    ready: document.readyState,
    expected: Number(document.body.dataset.figures || -1),
    plots: out,
    missing: [...document.querySelectorAll('[data-missing-figure]')]
      .map(d => d.dataset.missingFigure),
  });
})()
"""


def chromium_path() -> str:
    """Debian's Chromium, installed by :func:`conftest.debian_tool` when missing (as PgBouncer
    is), so the README's test command needs no browser set up by hand."""
    from conftest import debian_tool

    return debian_tool("chromium", "chromium")


@dataclass
class PageReport:
    """What the browser saw of a page."""

    plots: list[dict[str, Any]]
    expected: int
    missing: list[str]
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    load_s: float = 0.0

    def rendered(self) -> list[dict[str, Any]]:
        return [
            p
            for p in self.plots
            if p["plotly"]
            and p["svg"]
            and p["traces"] > 0
            and p["drawn"] > 0
            and all(n > 0 for n in p["gl"])
        ]


class Browser:
    """One headless Chromium; :meth:`open` loads a page and reports on it."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        self.profile = tempfile.mkdtemp(prefix="sweep-chromium-")
        self.proc = subprocess.Popen(
            [
                chromium_path(),
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.width, self.height = width, height
        port = self._port()
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120)
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")

    def _port(self) -> int:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if m:
                return int(m.group(1))
            if not line and self.proc.poll() is not None:
                break
        raise AssertionError("headless Chromium did not start")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})
            self.events.append(msg)

    def _wait_event(self, method: str, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            self.ws.settimeout(max(1.0, deadline - time.monotonic()))
            self.events.append(json.loads(self.ws.recv()))
        raise AssertionError(f"no {method} within {limit} s")

    def evaluate(self, expression: str) -> Any:
        got = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return got["result"].get("value")

    def open(self, path: Path, limit: float = 150) -> PageReport:
        """Load ``path``, wait until every plot is drawn (or ``limit`` seconds), report."""
        self.events.clear()
        t0 = time.monotonic()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self._wait_event("Page.loadEventFired", limit)
        load_s = time.monotonic() - t0
        state: dict[str, Any] = {}
        while time.monotonic() - t0 < limit:
            state = json.loads(self.evaluate(_STATE))
            report = PageReport(state["plots"], state["expected"], state["missing"])
            if state["ready"] == "complete" and len(report.rendered()) >= report.expected:
                break
            time.sleep(0.5)
        time.sleep(0.5)  # let late console messages arrive
        self.evaluate("1")
        report = PageReport(state["plots"], state["expected"], state["missing"], load_s=load_s)
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                report.errors.append(" ".join(str(a.get("value", a)) for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                report.errors.append(json.dumps(p.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                report.errors.append(p["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = str(p["request"]["url"])
                if not url.startswith(("file:", "data:", "blob:", "about:")):
                    report.requests.append(url)  # the page reached out to the network
        return report

    def screenshot(self, out: Path, width: int, height: int) -> None:
        """A PNG of the top ``width`` x ``height`` CSS pixels of the page now open."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.evaluate("window.dispatchEvent(new Event('resize'))")
        time.sleep(2)  # responsive plots redraw at the new width
        shot = self.call("Page.captureScreenshot", format="png")
        out.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


NETWORK_SOURCE = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)


def network_sources(html: str) -> list[str]:
    """Elements of ``html`` that would load something from the network (scripts' bodies left
    out: plotly.js holds URLs in strings it never loads)."""
    tags_only = re.sub(r"(<script\b[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S | re.I)
    return [m.group(0) for m in NETWORK_SOURCE.finditer(tags_only)]
