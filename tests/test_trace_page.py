"""The trace as an HTML page: what it embeds, and the command that writes it.

The page itself runs in headless Chromium (heavy; skipped where the browser is
missing).
"""

import html
import json
import os
import re

import numpy as np
import pytest

import loopnet as ln
from loopnet.cli import main
from loopnet.compare import random_batch
from loopnet.notation import NOTATIONS
from loopnet.trace import Trace, trace, worked_trace
from tests.browser import BROWSER_MISSING
from tests.helpers import PAIRINGS


def embedded(page):
    """The JSON block the page's script reads."""
    match = re.search(
        r'<script type="application/json" id="trace-data">(.*?)</script>',
        page,
        re.DOTALL,
    )
    return json.loads(match.group(1))


def random_trace(batch=2, **options):
    net = ln.Network([3, 2, 2], seed=1, **options)
    X, Y = random_batch(net, batch, seed=1)
    return trace(net, X, Y, header=("a random network",))


def test_embedded_values_are_the_trace_values():
    result = worked_trace("worked-batch")
    data = embedded(result.to_html())
    assert [step["name"] for step in data["steps"]] == [s.name for s in result.steps]
    assert [step["loop"] for step in data["steps"]] == [s.loop for s in result.steps]
    assert [step["matrix"] for step in data["steps"]] == [
        s.matrix for s in result.steps
    ]
    assert data["lr"] == result.lr and data["sizes"] == [2, 3, 1]


def test_page_writes_every_result_in_full_and_every_operand():
    result = random_trace()
    page = result.to_html()
    for step in result.steps:
        assert f'data-value="{step.loop!r}"' in page
        assert f'data-value="{step.matrix!r}"' in page
    first = result.steps[0]
    operands = [t.value for t in first.expression if not isinstance(t, str)]
    card = page[page.index('id="card-0"') : page.index('id="card-1"')]
    shown = [float(n.strip("()")) for n in re.findall(r'class="num">([^<]*)<', card)]
    np.testing.assert_allclose(shown, operands, rtol=5e-4)


def test_page_needs_nothing_from_outside():
    page = worked_trace().to_html()
    assert page.startswith("<!DOCTYPE html>")
    for needle in ("http:", "https:", "src=", "href=", "@import", "url(", "//cdn"):
        assert needle not in page, needle
    assert page.count("<script") == 2 and page.count("<style>") == 1


def test_symbols_in_every_notation():
    data = embedded(worked_trace().to_html())
    z, weight = "z:1:0,0", "W_new:1:2,0"
    assert data["symbols"]["loopnet"][z] == "z<sup>1</sup>[0, 0]"
    assert data["symbols"]["nielsen"][z] == "z<sup>2</sup><sub>1</sub>"
    assert data["symbols"]["welch"][z] == "z<sup>(2)</sup>[0, 0]"
    assert data["symbols"]["ng"][z] == "z<sup>(2)</sup><sub>1</sub>"
    assert data["symbols"]["welch"][weight] == "W′<sup>(1)</sup>[0, 2]"
    assert data["symbols"]["ng"]["sigma:1:"] == "g"
    assert data["symbols"]["welch"]["a:2:0,0"] == "ŷ[0, 0]"
    assert set(data["symbols"]) == set(NOTATIONS)


def test_symbols_mark_the_example_in_a_batch():
    assert NOTATIONS["nielsen"].symbol("z", 1, (1, 0), n_batch=2).text == "z^x2,2_1"
    assert NOTATIONS["ng"].symbol("x", 0, (1, 0), n_batch=2).text == "x_1 (i=2)"
    assert NOTATIONS["ng"].symbol("bias", 2, (1,)).text == "Θ^(2)_2,0"


@pytest.mark.parametrize("output, cost", PAIRINGS)
def test_page_for_every_pairing(output, cost):
    net = ln.Network([3, 2, 3], "tanh", output, cost, seed=5)
    X, Y = random_batch(net, 2, seed=1)
    result = trace(net, X, Y)
    page = result.to_html("ng")
    assert len(embedded(page)["steps"]) == len(result.steps)
    assert page.count('<tr id="row-') == len(result.steps)


def test_page_from_the_package_namespace():
    net = ln.Network([2, 2], seed=0)
    page = ln.trace(net, [[0.5, -0.5]], [[0.1, 0.9]]).to_html()
    assert len(embedded(page)["steps"]) == 2 * 2 + 2 + 4 + 2 + 4 + 2


def test_repr_html_is_the_page_in_a_frame():
    result = random_trace(batch=1, bias=False)
    frame = result._repr_html_()
    srcdoc = re.fullmatch(r'<iframe srcdoc="([^"]*)".*</iframe>', frame, re.DOTALL)
    assert html.unescape(srcdoc.group(1)) == result.to_html()
    assert "bias" not in "".join(embedded(result.to_html())["symbols"]["loopnet"])


def test_page_refuses_an_unknown_notation():
    with pytest.raises(ValueError, match="notation must be one of"):
        worked_trace().to_html("bourbaki")


@pytest.mark.parametrize(
    "args",
    [[], ["--example", "worked-batch"], ["--sizes", "3,2,2", "--seed", "1"]],
)
def test_cli_writes_the_page(capsys, tmp_path, args):
    path = tmp_path / "trace.html"
    path.write_text("an older page")
    assert main(["trace", *args, "--html", str(path)]) == 0
    assert capsys.readouterr().out == f"wrote {path}\n"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and os.listdir(tmp_path) == ["trace.html"]


def test_cli_page_opens_in_the_notation_asked_for(capsys, tmp_path):
    path = tmp_path / "trace.html"
    assert main(["trace", "--html", str(path), "--notation", "welch", "--lr", "2"]) == 0
    data = embedded(path.read_text(encoding="utf-8"))
    assert data["notation"] == "welch" and data["lr"] == 2.0


def test_cli_page_is_written_whole_or_not_at_all(capsys, tmp_path, monkeypatch):
    path = tmp_path / "trace.html"
    path.write_text("an older page")

    def fail(self, notation="loopnet"):
        raise OSError("disk full")

    monkeypatch.setattr(Trace, "to_html", fail)
    assert main(["trace", "--html", str(path)]) == 1
    assert "disk full" in capsys.readouterr().err
    assert path.read_text() == "an older page" and len(os.listdir(tmp_path)) == 1


@pytest.mark.parametrize(
    "where, status, message",
    [
        ("missing/trace.html", 1, "does not exist"),
        (".", 1, "is a folder"),
        ("", 2, "--html needs a file name"),
    ],
)
def test_cli_bad_page_paths(capsys, tmp_path, where, status, message):
    path = str(tmp_path / where) if where else ""
    assert main(["trace", "--html", path]) == status
    err = capsys.readouterr().err
    assert err.startswith("loopnet trace: error: ") and message in err


def test_cli_batch_names_its_option_and_limit(capsys):
    assert main(["trace", "--sizes", "3,2,2", "--batch", "5"]) == 2
    assert "--batch 5: trace follows at most 4 examples" in capsys.readouterr().err


# --- in the browser ----------------------------------------------------------

needs_browser = pytest.mark.skipif(
    BROWSER_MISSING is not None, reason=BROWSER_MISSING or "the browser is installed"
)


@pytest.fixture(scope="module")
def browser():
    from tests.browser import chromium

    with chromium() as driver:
        yield driver


def open_page(driver, folder, result, name="trace.html"):
    path = folder / name
    path.write_text(result.to_html(), encoding="utf-8")
    driver.get(path.as_uri())
    return path


def expected_highlight(step):
    """(data-layer, data-j, data-k or None) of the element a step names."""
    if step.quantity in ("dW", "W_new"):
        j, k = step.index
        return str(step.layer), str(j), str(k)
    j = step.index[-1] if step.quantity in ("z", "a", "delta") else step.index[0]
    return str(step.layer), str(j), None


@needs_browser
@pytest.mark.heavy
@pytest.mark.parametrize("which", ["worked", "random"])
def test_stepping_by_keyboard_shows_the_trace_values(browser, tmp_path, which):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.browser import press

    result = worked_trace() if which == "worked" else random_trace()
    open_page(browser, tmp_path, result)
    n_steps = len(result.steps)
    for i, step in enumerate(result.steps):
        card = browser.find_element(By.ID, f"card-{i}")
        assert card.is_displayed()
        assert (
            browser.find_element(By.ID, "counter").text == f"Step {i + 1} of {n_steps}"
        )
        loop = card.find_element(By.CSS_SELECTOR, ".loop")
        matrix = card.find_element(By.CSS_SELECTOR, ".matrix")
        assert float(loop.text) == step.loop and float(matrix.text) == step.matrix
        shown = card.find_element(By.CSS_SELECTOR, ".result .value").text
        assert float(shown) == step.loop
        diff = card.find_element(By.CSS_SELECTOR, ".diff").text
        assert float(diff) == float(f"{abs(step.loop - step.matrix):.1e}")
        current = browser.find_elements(By.CSS_SELECTOR, "#network .current")
        assert len(current) == 1
        element = current[0]
        kind = "weight" if step.quantity in ("dW", "W_new") else "unit"
        assert kind in element.get_attribute("class")
        highlighted = (
            element.get_attribute("data-layer"),
            element.get_attribute("data-j"),
            element.get_attribute("data-k"),
        )
        assert highlighted == expected_highlight(step), step.name
        if step.quantity == "a":  # the circle shows the step's example
            label = element.find_element(By.TAG_NAME, "text").text
            assert label == f"{step.loop:.3g}"
        row = browser.find_element(By.ID, f"row-{i}")
        assert "current" in row.get_attribute("class")
        press(browser, Keys.ARROW_RIGHT)
    assert browser.find_element(By.ID, f"card-{n_steps - 1}").is_displayed()
    press(browser, Keys.HOME)
    assert browser.find_element(By.ID, "card-0").is_displayed()
    press(browser, Keys.END)
    press(browser, Keys.ARROW_LEFT)
    assert browser.find_element(By.ID, f"card-{n_steps - 2}").is_displayed()


@needs_browser
@pytest.mark.heavy
def test_notation_switch_changes_symbols_not_numbers(browser, tmp_path):
    from selenium.webdriver.common.by import By

    result = random_trace()
    data = embedded(open_page(browser, tmp_path, result).read_text(encoding="utf-8"))

    def read():
        return browser.execute_script(
            "var q = function (s) { return Array.prototype.map.call("
            "document.querySelectorAll(s), function (e) { return e.textContent; }); };"
            "return [q('.sym'), q('.sym[data-sym]'), q('.num'), q('.loop'),"
            " q('.matrix')];"
        )

    before = read()
    keys = browser.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('.sym'),"
        " function (e) { return e.dataset.sym; });"
    )
    for name in ("nielsen", "welch", "ng", "loopnet"):
        browser.find_element(By.CSS_SELECTOR, f"input[value={name}]").click()
        after = read()
        assert after[2:] == before[2:]  # the numbers
        texts = [
            html.unescape(re.sub("<[^>]+>", "", data["symbols"][name][key]))
            for key in keys
        ]
        assert after[0] == texts
        if name != "loopnet":
            assert after[0] != before[0]
        title = browser.find_element(By.ID, "notation-title").text
        assert title == NOTATIONS[name].title
    assert read() == before


@needs_browser
@pytest.mark.heavy
def test_hover_and_focus_show_an_elements_values(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    result = random_trace(batch=1)
    open_page(browser, tmp_path, result)
    details = browser.find_element(By.ID, "details")
    assert not details.is_displayed()
    unit = browser.find_element(By.ID, "u-1-1")
    ActionChains(browser).move_to_element(
        unit.find_element(By.TAG_NAME, "circle")
    ).perform()
    values = {s.name: s.loop for s in result.steps if s.layer == 1}
    text = details.text
    for name in ("z[0, 1]", "a[0, 1]", "delta[0, 1]", "dC/dbias[1]", "bias_new[1]"):
        assert repr(values[name]) in text, name
    browser.execute_script("document.getElementById('w-2-0-1').focus()")
    text = details.text
    steps = {s.name: s.loop for s in result.steps if s.layer == 2}
    assert repr(steps["dC/dW[0, 1]"]) in text and repr(steps["W_new[0, 1]"]) in text


@needs_browser
@pytest.mark.heavy
def test_screenshot_is_not_blank(browser, tmp_path):
    matplotlib_image = pytest.importorskip("matplotlib.image")
    import io

    from selenium.webdriver.common.by import By

    open_page(browser, tmp_path, worked_trace())
    png = browser.find_element(By.ID, "workbench").screenshot_as_png
    pixels = matplotlib_image.imread(io.BytesIO(png))[..., :3]
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400
    inked = (pixels.min(axis=2) < 0.5).mean()  # dark text, lines, circles
    assert pixels.std() > 0.1 and inked > 0.01
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()
    assert coloured > 0.002  # the weights' red and the highlight


@needs_browser
@pytest.mark.heavy
def test_without_javascript_the_tables_show_everything(tmp_path):
    from selenium.webdriver.common.by import By

    from tests.browser import chromium

    result = worked_trace("worked-batch")
    with chromium(javascript=False) as driver:
        open_page(driver, tmp_path, result)
        assert not driver.find_element(By.ID, "stepper").is_displayed()
        rows = driver.find_elements(By.CSS_SELECTOR, "#tables tbody tr")
        assert len(rows) == len(result.steps)
        for row, step in zip(rows, result.steps, strict=True):
            cells = row.find_elements(By.TAG_NAME, "td")
            assert float(cells[4].text) == step.loop
            assert float(cells[5].text) == step.matrix
        assert driver.find_element(By.ID, "network").is_displayed()


@needs_browser
@pytest.mark.heavy
def test_print_shows_the_tables_not_the_stepper(browser, tmp_path):
    from selenium.webdriver.common.by import By

    open_page(browser, tmp_path, worked_trace())
    assert browser.find_element(By.ID, "stepper").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.ID, "stepper").is_displayed()
        assert browser.find_element(By.ID, "tables").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


@needs_browser
@pytest.mark.heavy
def test_tab_reaches_the_network_and_focus_is_visible(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.browser import press

    open_page(browser, tmp_path, worked_trace())

    def active():
        return browser.execute_script("return document.activeElement.id")

    def stroke(element_id):
        return browser.execute_script(
            "return getComputedStyle(document.querySelector('#' + arguments[0]"
            " + ' circle')).strokeWidth;",
            element_id,
        )

    unfocused = stroke("u-0-0")
    for _ in range(40):  # the buttons, the notation and the weights come first
        press(browser, Keys.TAB)
        if active().startswith("u-"):
            break
    assert active() == "u-0-0"
    assert stroke("u-0-0") != unfocused
    details = browser.find_element(By.ID, "details")
    assert details.is_displayed() and "0.3" in details.text
    press(browser, Keys.ARROW_RIGHT)  # the arrows still step from the network
    assert browser.find_element(By.ID, "card-1").is_displayed()


@needs_browser
@pytest.mark.heavy
def test_the_notebook_frame_runs_the_page(browser, tmp_path):
    from selenium.webdriver.common.by import By

    result = worked_trace()
    path = tmp_path / "notebook.html"
    path.write_text(
        f"<!DOCTYPE html><html><body>{result._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    browser.get(path.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        browser.find_element(By.ID, "next").click()
        card = browser.find_element(By.ID, "card-1")
        assert card.is_displayed()
        loop = card.find_element(By.CSS_SELECTOR, ".loop").text
        assert float(loop) == result.steps[1].loop
    finally:
        browser.switch_to.default_content()
