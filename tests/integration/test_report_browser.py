"""The HTML report in a real browser: headless Chromium lays the page out and draws the charts.

Needs ``/usr/bin/chromium`` (or ``SHUANGSHI_TEST_CHROMIUM``) and a Chinese font (Debian: ``apt-get install
chromium fonts-wqy-zenhei``; CI installs both). Without them the tests fail saying so; they never skip.

Two runs of the same page at the same window size: ``--dump-dom`` of a copy with a probe script that
writes every chart's bounding box into the DOM, and ``--screenshot`` of the page itself (which has no
script). The chart areas of the screenshot must hold the charts' colours, not a blank.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest
from PIL import Image

from tests.integration.report_ledger import NOW, SINCE, UNTIL, build_fixture_ledger
from workers.catalog.loader import load_catalog
from workers.ledger import Ledger, default_ledger_url
from workers.report import build_report
from workers.report.html import render_html
from workers.sla import load_working_calendar

CHROMIUM_ENV: Final = "SHUANGSHI_TEST_CHROMIUM"
WIDTH, HEIGHT = 1400, 2400
#: Bar colours of the two town charts (see workers.report.charts).
ACCEPTED_BLUE: Final = (0x2F, 0x6D, 0xB5)
OPEN_OVERDUE_RED: Final = (0xC0, 0x39, 0x2B)
PROBE: Final = """
<script>
  const boxes = [...document.querySelectorAll('svg[id^="chart-"]')].map((svg) => {
    const box = svg.getBoundingClientRect();
    return {id: svg.id, x: box.x, y: box.y, width: box.width, height: box.height};
  });
  const out = document.createElement('pre');
  out.id = 'chart-boxes';
  out.textContent = JSON.stringify(boxes);
  document.body.appendChild(out);
</script>
"""


def chromium() -> str:
    """The browser to use; the test fails (never skips) without it."""
    path = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {path}: install it (Debian: apt-get install -y chromium "
            f"fonts-wqy-zenhei) or point {CHROMIUM_ENV} at a Chromium binary",
            pytrace=False,
        )
    fc_list = shutil.which("fc-list")
    chinese = (
        subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
        if fc_list
        else None
    )
    if chinese is None or not chinese.stdout.strip():
        pytest.fail(
            "no Chinese font is installed, so the page would show empty boxes: apt-get install -y fonts-wqy-zenhei",
            pytrace=False,
        )
    return path


def browse(*args: str, page: Path) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # the tests may run as root in a container
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture ledger's report as an HTML file."""
    folder = tmp_path_factory.mktemp("browser")
    with Ledger(default_ledger_url(folder / "data")) as ledger:
        ledger.migrate()
        build_fixture_ledger(ledger)
        report = build_report(
            ledger,
            catalog=load_catalog(),
            calendar=load_working_calendar(),
            since=SINCE,
            until=UNTIL,
            now=NOW,
        )
    path = folder / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def chart_boxes(page: Path) -> dict[str, dict[str, float]]:
    """The charts' boxes as Chromium lays them out (a probe script in a copy of the page reports them)."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = browse("--dump-dom", "--virtual-time-budget=5000", page=probe).stdout
    found = re.search(r'<pre id="chart-boxes">(.*?)</pre>', dom, re.DOTALL)
    assert found, "the probe found no chart"
    return {box["id"]: box for box in json.loads(found.group(1))}


def test_chromium_lays_out_every_chart_with_a_size(page: Path) -> None:
    """The three chart SVGs are laid out across the page's width with a real height."""
    boxes = chart_boxes(page)
    assert list(boxes) == ["chart-town-volume", "chart-town-overdue", "chart-monthly-trend"]
    for box in boxes.values():
        assert box["width"] > 800
        assert 150 < box["height"] <= 380
    assert (
        boxes["chart-town-volume"]["y"] < boxes["chart-town-overdue"]["y"] < boxes["chart-monthly-trend"]["y"]
    )


def test_the_screenshot_shows_the_charts(page: Path, tmp_path: Path) -> None:
    """The screenshot is a real page, and the chart areas hold the bars' colours and many others."""
    boxes = chart_boxes(page)
    shot = tmp_path / "report.png"
    browse(f"--screenshot={shot}", page=page)
    with Image.open(shot) as image:
        picture = image.convert("RGB")
    assert picture.size == (WIDTH, HEIGHT)
    colors = picture.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colors is not None
    assert len(colors) > 50  # text, tables and charts, not one flat colour
    volume = boxes["chart-town-volume"]
    assert volume["y"] + volume["height"] < HEIGHT, "the first chart is below the screenshot"

    def region(box: dict[str, float]) -> set[object]:
        area = picture.crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
        found = area.getcolors(maxcolors=area.width * area.height) or []
        return {color for _, color in found}  # RGB triples

    volume_colors = region(volume)
    assert ACCEPTED_BLUE in volume_colors
    assert len(volume_colors) > 20
    overdue = boxes["chart-town-overdue"]
    if overdue["y"] + overdue["height"] < HEIGHT:
        assert OPEN_OVERDUE_RED in region(overdue)
