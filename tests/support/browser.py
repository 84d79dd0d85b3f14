"""What the browser tests of the desk and the chat page share: the two screens the pages are
reviewed on, logging in to the desk, WCAG contrast as the page computes it, and axe-core.

axe-core is vendored (tests/browser/vendor/axe.min.js, MPL-2.0): the tests run offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.desk import PASSWORD
from tests.support.stack import ROOT

SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = ROOT / "tests" / "browser" / "vendor" / "axe.min.js"
SECONDS = 20_000  # Playwright waits in milliseconds

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
DESK: dict[str, Any] = {
    "viewport": {"width": 1440, "height": 900},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}


def shot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def say(page: Page, text: str) -> None:
    """The customer types and presses Enter on the chat page."""
    page.fill("#input", text)
    page.press("#input", "Enter")


def open_chat(page: Page, url: str) -> None:
    page.goto(f"{url}/")
    expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=SECONDS)


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/desk/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#live")).to_have_class("live on", timeout=SECONDS)


# The WCAG 2 contrast ratio between an element's colour property and the first opaque
# background behind it (white when none is set).
_CONTRAST = """([element, property]) => {
  const rgb = (value) => (value.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((c) => {
    c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let back = [255, 255, 255];
  for (let node = element; node; node = node.parentElement) {
    const value = rgb(getComputedStyle(node).backgroundColor);
    const opaque = value.length === 3 || (value.length === 4 && value[3] === 1);
    if (opaque) { back = value.slice(0, 3); break; }
  }
  const front = rgb(getComputedStyle(element)[property]).slice(0, 3);
  const [hi, lo] = [lum(front), lum(back)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}"""


def contrast(page: Page, selector: str, property: str = "color") -> float:
    element = page.locator(selector).first.element_handle()
    return float(page.evaluate(_CONTRAST, [element, property]))


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A and AA)."""
    # Evaluated, not added as a <script>: the pages' Content-Security-Policy (script-src
    # 'self') rightly refuses inline scripts, and the test must not loosen it.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const result = await axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
          });
          return result.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
        }"""
    )
    return found
