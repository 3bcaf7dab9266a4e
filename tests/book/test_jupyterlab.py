"""The chapters in JupyterLab, as a reader runs them: a real browser, a real server.

JupyterLab (with jupyterlab-myst) is started on 127.0.0.1 in a temporary folder holding
copies of chapters 3 and 5 whose parameters are set to the ``tiny`` profile at reduced
scale (papermill's ``prepare_only``: the cells are the chapter's own). Chromium, driven by
Selenium, opens each one, runs all its cells, and the test reads what the reader sees:

- every figure cell (``mystnb.figure`` metadata) shows an image;
- no rendered markdown cell shows raw MyST (``{glue``, ``{eval}``, ``:::``, a fence) or
  an unevaluated or failed inline expression;
- every ``{eval}`` of the Summary was evaluated by the kernel and its value is on the page;
- the banner names the profile, scale and seed that ran (papermill's values); the
  parameters and imports are collapsed and the one-line opening is visible;
- the estimator cells and their checks are expanded and the checks show their comparison;
- every cell of a worked solution is collapsed;
- cross-references read as text (figure numbers, chapter titles, author-year), with no
  figure label, bibliography key or ``../book/`` path on the page;
- no cell has an error output;
- opening a committed chapter, before anything runs, leaves it unmodified.

Screenshots of chapter 3's Figure 1 and of each Summary go to ``_build/jupyterlab/``. The
test needs Debian's ``chromium`` and ``chromium-driver``: without them it is skipped,
unless ``LAYERWISE_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "jupyterlab"
CHAPTERS = ("03_anisotropy", "05_sts")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
RAW_MYST = ("{glue", "{eval}", ":::", "```", "Unexecuted inline expression")


def _need_browser() -> None:
    missing = [
        name for name, path in (("chromium", CHROMIUM), ("chromedriver", DRIVER)) if not path
    ]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if not missing:
        return
    message = (
        f"the JupyterLab test needs {', '.join(missing)}: `apt-get install chromium "
        "chromium-driver` (selenium is in the lock)"
    )
    if os.environ.get("LAYERWISE_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """A JupyterLab server on 127.0.0.1 over a folder with the chapters (tiny, reduced) and
    one untouched chapter; yields (url, token, folder)."""
    _need_browser()
    import papermill

    work = tmp_path_factory.mktemp("lab")
    committed = {nb.name: nb.read_bytes() for nb in (ROOT / "notebooks").glob("*.ipynb")}
    (work / "committed.json").write_text(json.dumps({k: v.hex() for k, v in committed.items()}))
    books = work / "notebooks"
    books.mkdir()
    for name in CHAPTERS:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / f"{name}.ipynb"),
            str(books / f"{name}.ipynb"),
            parameters={
                "profile": "tiny",
                "scale": "reduced",
                "results_dir": str(work / "results"),
                "cache_dir": str(work / "cache"),
            },
            prepare_only=True,
            progress_bar=False,
        )
        # the values papermill injects fold like the parameters cell they override (a
        # reader who edits the parameters cell has no injected cell at all)
        injected = json.loads((books / f"{name}.ipynb").read_text())
        for cell in injected["cells"]:
            if "injected-parameters" in cell["metadata"].get("tags", []):
                cell["metadata"].setdefault("jupyter", {})["source_hidden"] = True
        (books / f"{name}.ipynb").write_text(json.dumps(injected, indent=1))
    shutil.copy(ROOT / "notebooks" / "03_anisotropy.ipynb", books / "untouched.ipynb")
    # every cell in the DOM and laid out, so that the test reads what a reader scrolls to
    tracker = (
        work / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    )
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), "layerwise-test"
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "JUPYTER_CONFIG_DIR": str(work / "config"),
        "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
    }
    log = (work / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
            "--allow-root",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start; log: {(work / 'lab.log').read_text()[-2000:]}")
        yield url, token, work
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


#: JavaScript run in the page: the current notebook panel.
PANEL = "const panel = window.jupyterapp.shell.currentWidget;"


def _open(driver, url: str, token: str, path: str) -> None:
    """Open ``path`` in JupyterLab and wait until its kernel is idle."""
    driver.get(f"{url}/lab/tree/{path}?token={token}&reset")
    _wait(
        driver,
        PANEL + "return !!(panel && panel.context && panel.context.isReady && "
        "panel.sessionContext.session && panel.sessionContext.session.kernel && "
        "panel.sessionContext.session.kernel.status === 'idle' && "
        f"panel.context.path.endsWith({json.dumps(path.split('/')[-1])}));",
        180,
        f"{path} did not open with an idle kernel",
    )


def _wait(driver, script: str, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = driver.execute_script(script)
        except Exception:  # the app is still loading
            value = None
        if value:
            return value
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:.0f} s")


def _run_all(driver) -> list[dict]:
    """Run all cells; wait until every code cell ran and the kernel is idle; return, per
    cell, its type, metadata, outputs and rendered text."""
    driver.execute_script(PANEL + "window.jupyterapp.commands.execute('notebook:run-all-cells');")
    _wait(
        driver,
        PANEL + "const cells = panel.content.widgets;"
        "return panel.sessionContext.session.kernel.status === 'idle' && cells.every(c => "
        "c.model.type !== 'code' || (c.model.executionCount !== null && "
        "!c.node.querySelector('.jp-InputArea-prompt')?.textContent.includes('*')))"
        " && cells.filter(c => c.model.type === 'markdown').every(c => c.rendered);",
        900,
        "Run All did not finish",
    )
    time.sleep(2)  # the last markdown cells' inline expressions come back
    return driver.execute_script(
        PANEL + "return panel.content.widgets.map(c => ({type: c.model.type, "
        "metadata: c.model.metadata, source: c.model.sharedModel.getSource(), "
        "outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [], "
        "images: c.node.querySelectorAll('.jp-OutputArea-output img').length, "
        "inputHidden: c.inputHidden, "
        "links: Array.from(c.node.querySelectorAll('a'))"
        ".map(a => a.textContent), "
        "text: c.node.innerText}));"
    )


def _shot(driver, index: int, name: str) -> Path:
    """Screenshot of cell ``index`` of the current notebook, saved as ``name``."""
    from selenium.webdriver.common.by import By

    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.execute_script(PANEL + f"panel.content.widgets[{index}].node.scrollIntoView();")
    time.sleep(1.5)
    target = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[index]
    path = SHOTS / name
    target.screenshot(str(path))
    return path


def test_opening_a_chapter_does_not_modify_it(lab, browser):
    url, token, _ = lab
    _open(browser, url, token, "notebooks/untouched.ipynb")
    time.sleep(3)
    dirty = browser.execute_script(PANEL + "return panel.context.model.dirty;")
    if dirty:
        seen = browser.execute_script(PANEL + "return panel.context.model.toJSON();")["metadata"]
        saved = json.loads((ROOT / "notebooks" / "03_anisotropy.ipynb").read_text())["metadata"]
        changed = {
            k: (saved.get(k), seen.get(k)) for k in {*seen, *saved} if seen.get(k) != saved.get(k)
        }
        pytest.fail(f"opening the committed chapter modified it; metadata (saved, now): {changed}")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_in_jupyterlab_as_in_the_book(lab, browser, chapter):
    url, token, _ = lab
    _open(browser, url, token, f"notebooks/{chapter}.ipynb")
    as_opened = browser.execute_script(
        PANEL + "return panel.content.widgets.map(c => c.inputHidden);"
    )
    cells = _run_all(browser)

    errors = [
        (i, o.get("ename"), o.get("evalue"))
        for i, c in enumerate(cells)
        for o in c["outputs"]
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{chapter}: error outputs {errors}"

    figures = [i for i, c in enumerate(cells) if "figure" in c["metadata"].get("mystnb", {})]
    assert figures, f"{chapter} has no figure cell"
    assert all(cells[i]["images"] >= 1 for i in figures), (
        f"{chapter}: figure cells without an image: "
        f"{[i for i in figures if cells[i]['images'] < 1]}"
    )

    markdown = [(i, c) for i, c in enumerate(cells) if c["type"] == "markdown"]
    raw = [(i, m) for i, c in markdown for m in RAW_MYST if m in c["text"]]
    assert not raw, f"{chapter}: raw MyST in rendered markdown: {raw[:5]}"

    evaluated = 0
    for i, c in markdown:
        stored = c["metadata"].get("user_expressions", [])
        expected = {e["expression"] for e in stored}
        assert ("{eval}" not in c["source"]) or expected, f"{chapter} cell {i}: not evaluated"
        for item in stored:
            result = item["result"]
            assert result["status"] == "ok", f"{chapter} cell {i}: {item}"
            value = result["data"]["text/plain"]
            assert value.strip("'\"") in c["text"], f"{chapter} cell {i}: {value!r} not shown"
            evaluated += 1
    assert evaluated > 0

    summary = next(i for i, c in markdown if "\n## Summary" in "\n" + c["source"])
    summary_exprs = cells[summary]["metadata"].get("user_expressions", [])
    if "{eval}" in cells[summary]["source"]:
        assert summary_exprs, f"{chapter}: the Summary's numbers were not evaluated"
    _shot(browser, summary, f"{chapter}-summary.png")
    opening = next(i for i, c in enumerate(cells) if "chapter.open_chapter(" in c["source"])
    banner = cells[opening]["text"]
    assert "Models used in this chapter" in banner and ":::" not in banner
    # the page says what ran: the values papermill gave the chapter, not the defaults
    assert "profile tiny, scale reduced, seed 0" in " ".join(banner.split()), banner[:300]
    # the opening line is visible, the parameters and imports are collapsed
    assert not cells[opening]["inputHidden"]
    shown_setup = [
        (i, cells[i]["metadata"], cells[i]["source"][:60])
        for i in range(1, opening)
        if not cells[i]["inputHidden"]
    ]
    assert not shown_setup, f"{chapter}: set-up not collapsed: {shown_setup}"

    # the estimator cells are on the page, expanded, and their checks ran without error
    shown = [i for i, c in enumerate(cells) if "estimator" in c["metadata"].get("tags", [])]
    checks = [i for i, c in enumerate(cells) if "estimator-check" in c["metadata"].get("tags", [])]
    assert shown and checks, f"{chapter}: no estimator cell"
    assert not any(cells[i]["inputHidden"] for i in shown + checks)
    assert all(cells[i]["outputs"] for i in checks), "a check shows its comparison"
    _shot(browser, checks[0], f"{chapter}-estimator-check.png")

    # the solutions are folded: every cell between solution-start and solution-end as the
    # chapter opens; after Run All their code stays folded (JupyterLab shows every markdown
    # cell it runs, so the explanations open then, as the chapter's Exercises intro says)
    inside, folded = False, []
    for i, c in enumerate(cells):
        if c["type"] == "markdown" and "{solution-start}" in c["source"]:
            inside = True
        elif c["type"] == "markdown" and "{solution-end}" in c["source"]:
            inside = False
        elif inside:
            folded.append((i, as_opened[i], c["inputHidden"] or c["type"] == "markdown"))
    assert folded and all(o and r for _, o, r in folded), f"{chapter}: {folded}"

    # cross-references read as text: figure numbers and chapter titles, no labels or keys
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.M)
    labels = [*keys, "fig-", "ex-", "../book/", "{numref}", "{doc}", "{cite"]
    rendered = "\n".join(c["text"] for _, c in markdown)
    assert not [x for x in labels if x in rendered], f"{chapter}: a raw label on the page"
    links = [a for _, c in markdown for a in c["links"]]
    assert any(a.startswith("Figure ") for a in links), f"{chapter}: {links[:40]}"
    _shot(browser, opening, f"{chapter}-banner.png")
    _shot(browser, 0, f"{chapter}-overview.png")
    if chapter == "03_anisotropy":
        _shot(browser, figures[0], f"{chapter}-figure1.png")


def test_the_committed_chapters_are_unchanged_after_the_runs(lab):
    """JupyterLab ran copies (the class's workflow, ``make student``): the committed
    chapters are byte for byte what they were when the server started."""
    _, _, work = lab
    before = json.loads((work / "committed.json").read_text())
    now = {nb.name: nb.read_bytes().hex() for nb in (ROOT / "notebooks").glob("*.ipynb")}
    assert now == before
