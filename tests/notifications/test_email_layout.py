"""The summary email as a reader's mail client lays it out: size, and no sideways scrolling at a
phone's, a tablet's and a desktop's width in a real headless Chromium."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pytest

from tests.browser import Chromium, require_chromium
from tests.notifications.reports import medium_night_report
from trestle.notifications.render import render_summary

WIDTHS = (400, 800, 1200)
GMAIL_CLIP_BYTES = 100_000

# Headless Chromium will not make a window narrower than 500 px, so the email is laid out in an
# iframe of each width; a script in the email writes the page's and every element's overflow past
# that width into the outer page, which Chromium dumps.
MEASURE = """
<script>
window.addEventListener("load", () => {
  const inner = window.innerWidth;
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    const overflow = Math.max(box.right - inner, element.scrollWidth - element.clientWidth);
    if (box.width && overflow > 1) wide.push({tag: element.tagName, overflow: Math.round(overflow)});
  }
  const result = {inner: inner, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 5)};
  const out = parent.document.createElement("pre");
  out.id = "measure";
  out.textContent = JSON.stringify(result);
  parent.document.body.appendChild(out);
});
</script>
"""


def framed(html: str, width: int) -> str:
    """A page showing ``html`` (with the measuring script) in an iframe ``width`` px wide."""
    inner = html.replace("</body>", MEASURE + "</body>")
    return (
        f'<!DOCTYPE html><html><body style="margin:0"><iframe style="width:{width}px;height:900px;border:0" '
        f'srcdoc="{escape(inner, quote=True)}"></iframe></body></html>'
    )


def test_medium_first_night_fits_under_the_clipping_limit_with_action_first() -> None:
    html = render_summary(medium_night_report()).html

    assert len(html.encode("utf-8")) < GMAIL_CLIP_BYTES
    needs_action = html.index("Needs action")
    assert needs_action < html.index("What changed")
    assert html.index("Waiting (38)") < html.index("What changed")
    assert "<style" not in html and "class=" not in html  # every style is inline


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_overflow_in_chromium(width: int, tmp_path: Path) -> None:
    chromium = Chromium(require_chromium(), width=1300, height=1000)
    page = tmp_path / "summary.html"
    page.write_text(framed(render_summary(medium_night_report()).html, width), encoding="utf-8")

    dom = chromium.dom(page.as_uri(), expect=['id="measure"'])
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    measured = json.loads(found.group(1).replace("&quot;", '"'))

    assert measured["inner"] == width
    assert measured["scroll"] <= measured["inner"], measured
    assert measured["wide"] == [], measured
