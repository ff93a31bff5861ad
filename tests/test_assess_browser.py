"""The Assess tab in a real browser: two annotators assess a prepared set, the server is killed (kill -9) and restarted
in the middle, each annotator continues where they stopped, no answer is lost or duplicated, `medsyn assess score`
gives the statistics of exactly those answers, and no response the page received carries the key."""

import json
import re
import time

import pytest
from conftest import free_port, q, served, space_command
from test_assess import REAL, SYNTHETIC, leaks
from test_space_browser import tab

from medsyn_hf.assess.prepare import prepare
from medsyn_hf.assess.score import krippendorff_alpha, write_report
from medsyn_hf.assessment_folder import load_items, load_key
from medsyn_hf.schemas import ASSESSMENT_CRITERIA

# Every response body the page receives is kept for the check, read as it streams (Gradio's queue answers over one
# long-lived event stream, fetched or an EventSource).
RECORD_RESPONSES = """window.__responses = [];
const fetch0 = window.fetch;
window.fetch = async (...args) => {
  const response = await fetch0(...args);
  const reader = response.clone().body?.getReader();
  if (reader) {
    const i = window.__responses.push("") - 1, decoder = new TextDecoder();
    (async () => { for (;;) { const {done, value} = await reader.read(); if (done) break;
                              window.__responses[i] += decoder.decode(value, {stream: true}); } })().catch(() => {});
  }
  return response;
};
const EventSource0 = window.EventSource;
window.EventSource = function (...args) {
  const source = new EventSource0(...args);
  source.addEventListener("message", e => window.__responses.push(e.data));
  return source;
};"""


def designed(name: str, origin: str, index: int) -> tuple[str, list[int]]:
    """What each annotator answers: anna always right, boris always 'real'; scores follow the truth for anna."""
    if name == "anna":
        return origin, [5 if origin == "real" else 2, 4, 4, 1 + index % 5]
    return "real", [3, 3, 3, 1 + index % 5]


def label(component: str, text: str) -> str:
    return f"[...document.querySelectorAll('#{component} label')].find(l => l.innerText.trim() == {json.dumps(text)})"


def progress(browser) -> str:
    return browser.js(f"{q('#assess-progress')}?.innerText || ''")


def open_tab(browser, url: str, name: str) -> str:
    """Load the page, go to the Assess tab, sign in by name; returns the progress line."""
    browser.get(url)
    deadline = time.monotonic() + 60
    while not browser.js(f"!!{q('#assess-name textarea')}"):  # a click while the page still loads may be lost
        assert time.monotonic() < deadline, browser.screenshot(browser.failure_png)
        browser.click(tab("Assess"))
        time.sleep(0.5)
    browser.type(q("#assess-name textarea"), name)
    browser.click(q("#assess-start"))
    return browser.wait(
        f"({q('#assess-progress')}?.innerText || '').includes({json.dumps(name)}) && {q('#assess-progress')}.innerText"
    )


def answer_items(browser, name: str, count: int, key: dict, order: list[str]) -> None:
    for _ in range(count):
        item = browser.wait(f"{q('#assess-item textarea')}?.value")
        origin, scores = designed(name, key[item]["origin"], order.index(item))
        done, total = map(int, re.search(r"note (\d+) of (\d+)", progress(browser)).groups())
        browser.click(label("assess-origin", origin))
        for criterion, value in zip(ASSESSMENT_CRITERIA, scores):
            browser.click(label(f"assess-{criterion}", str(value)))
        browser.click(q("#assess-submit"))
        expected = f"note {done + 1} of {total}" if done < total else f"all {total} notes assessed"
        browser.wait(f"({q('#assess-progress')}?.innerText || '').includes({json.dumps(expected)})")


def check_responses(browser, folder) -> None:
    text = "\n".join(browser.js("window.__responses") or [])
    assert "item-" in text  # the items did arrive through these responses
    html = browser.js("document.documentElement.outerHTML")
    assert leaks(text + html, folder) == []


def test_two_annotators_across_a_server_restart(browser, tmp_path, tiny_model_dir):
    folder = tmp_path / "study"
    prepare(str(REAL), str(SYNTHETIC), 6, str(folder), seed=1)
    key, order = load_key(folder), [i["item_id"] for i in load_items(folder)]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd, env = space_command(port, tiny_model_dir, [tmp_path / "none"], tmp_path / "cache", "--assess", folder)
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_RESPONSES})
    with served(cmd, url, tmp_path / "server-1.log", env=env, cwd=tmp_path) as server:
        assert open_tab(browser, url, "anna").startswith("anna: note 1 of 6")
        answer_items(browser, "anna", 2, key, order)
        check_responses(browser, folder)
        assert open_tab(browser, url, "boris").startswith("boris: note 1 of 6")
        answer_items(browser, "boris", 3, key, order)
        check_responses(browser, folder)
        server.kill()  # a crash, not a clean shutdown
        server.wait()
    with served(cmd, url, tmp_path / "server-2.log", env=env, cwd=tmp_path):
        assert open_tab(browser, url, "anna").startswith("anna: note 3 of 6")  # continues where she stopped
        answer_items(browser, "anna", 4, key, order)
        assert "all 6 notes assessed" in progress(browser)
        check_responses(browser, folder)
        assert open_tab(browser, url, "boris").startswith("boris: note 4 of 6")
        answer_items(browser, "boris", 3, key, order)
        assert "all 6 notes assessed" in progress(browser)
        check_responses(browser, folder)
        browser.screenshot(tmp_path / "assess.png")

    for name in ("anna", "boris"):  # every answer once, in the order shown, exactly as clicked
        rows = [json.loads(line) for line in (folder / "answers" / f"{name}.jsonl").read_text().splitlines()]
        assert [r["item_id"] for r in rows] == order
        for r in rows:
            origin, scores = designed(name, key[r["item_id"]]["origin"], order.index(r["item_id"]))
            assert (r["origin"], [r[c] for c in ASSESSMENT_CRITERIA]) == (origin, scores)

    report = write_report(folder, tmp_path / "report")  # what `medsyn assess score DIR --out REPORT` runs
    assert report == json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    anna, boris = report["scopes"]["anna"], report["scopes"]["boris"]
    assert (anna["guess"]["correct"], boris["guess"]["correct"], report["scopes"]["pooled"]["guess"]["answers"]) == (
        6,
        3,
        12,
    )
    assert boris["guess"]["real_judged_real"] == boris["guess"]["synthetic_judged_real"] == 1.0
    realism = report["scopes"]["pooled"]["scores"]["realism"]
    assert (realism["real"]["mean"], realism["synthetic"]["mean"]) == (4.0, 2.5)  # (3·5 + 3·3) / 6, (3·2 + 3·3) / 6
    # anna's guesses are the truth (3 real, 3 synthetic), boris's all 'real': po = 0.5, pe = 0.5, kappa = 0.
    assert report["agreement"]["cohen_kappa_origin"] == 0.0
    assert report["agreement"]["krippendorff_alpha_language_ordinal"] == 1.0  # both gave 1 + index % 5
    realism_matrix = [[designed(n, key[i]["origin"], j)[1][0] for j, i in enumerate(order)] for n in ("anna", "boris")]
    assert report["agreement"]["krippendorff_alpha_realism_ordinal"] == pytest.approx(
        krippendorff_alpha(realism_matrix, "ordinal")
    )
