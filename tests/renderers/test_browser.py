"""The HTML plan opened in headless Chromium: what a person sees, and a screenshot kept as a
test artifact (``test-artifacts/plan-order_fulfillment.png``, git-ignored)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import journeys

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ORDER = ROOT / "definitions" / "order_fulfillment.yaml"
INPUTS = {
    "order_id": "A-1",
    "customer_id": "<script>alert('c1')</script>",
    "sku": "SKU-1",
    "quantity": 2,
    "amount": 20,
    "currency": "EUR",
    "shipping_address": "1 Main St",
}
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio"]


def _chromium(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *_FLAGS, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_html_plan_in_a_browser(
    chromium: str, dot: str, plan_of: Callable[..., journeys.Plan], tmp_path: Path
) -> None:
    page = tmp_path / "plan.html"
    page.write_text(journeys.render(plan_of(ORDER, inputs=INPUTS), format="html"), "utf-8")
    # --virtual-time-budget lets the page settle; the DOM is what the browser built
    shown = _chromium(chromium, "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    assert shown.returncode == 0, shown.stderr
    dom = shown.stdout
    assert "<title>Plan: Order fulfillment</title>" in dom
    titles = re.findall(r'<span class="step-title">([^<]*)</span>', dom)
    assert titles == [
        "Record the order",
        "Charge the customer",
        "Reserve the stock",
        "Book the shipment",
    ]
    steps = re.findall(r'<li class="step[^"]*" id="step-([a-z_]+)"', dom)
    assert steps == ["order", "payment", "inventory", "shipping"]
    # the compensation plan, nearest first
    last = dom.split('id="compensation"')[1].split("</section>")[0].split('class="contingency"')[-1]
    assert re.findall(r"undo (\w+)</span>", last) == ["inventory", "payment", "order"]
    # the state diagram, drawn inline, and nothing of the inputs run as script
    assert "<svg" in dom.split('id="diagram"')[1]
    assert "<script" not in dom
    assert "&lt;script&gt;alert('c1')&lt;/script&gt;" in dom
    assert 'id="status">ready<' in dom

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "plan-order_fulfillment.png"
    screenshot.unlink(missing_ok=True)
    taken = _chromium(
        chromium, "--window-size=1280,3200", f"--screenshot={screenshot}", page.as_uri()
    )
    assert taken.returncode == 0, taken.stderr
    assert screenshot.stat().st_size > 50_000  # a drawn page, not a blank one
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
