"""The demo Space in a real browser (Selenium, headless Debian chromium through chromium-driver): searches a code,
runs a generation and saves screenshots."""

import json

from conftest import q

QUERY = "остррый бронхит"  # a typo; the best hit (J20) has symptoms, so the picture shows a neighbourhood


def tab(name: str) -> str:
    return f"[...document.querySelectorAll('button[role=tab]')].find(b => b.innerText.trim() == {json.dumps(name)})"


def test_search_and_generate_in_a_browser(browser, space_url, kg, tmp_path):
    browser.get(space_url)
    browser.wait(f"!!{q('#query textarea')}")

    browser.type(q("#query textarea"), QUERY)
    browser.click(q("#search-btn"))
    best = kg.search(QUERY)[0][0]
    browser.wait(f"{q('#hierarchy')}?.innerText.includes('{best} {kg.code(best)['name_ru']}')")
    assert browser.js(f"{q('#code textarea')}.value") == best
    assert browser.wait(f"{q('#hits')}?.innerText.includes({json.dumps(kg.code(best)['name_ru'])})")
    assert browser.wait(f"{q('#picture img')}?.naturalWidth") == 800  # the neighbourhood picture arrived
    search_png = browser.screenshot(tmp_path / "space-search.png")

    browser.click(tab("Generate"))
    browser.click(q("#generate-btn"))
    checks = browser.wait(f"{q('#checks')}?.innerText.includes('symptom_recall') && {q('#checks')}.innerText")
    note = browser.js(f"{q('#note textarea')}.value")
    assert note and "copy_ratio" in checks
    generate_png = browser.screenshot(tmp_path / "space-generate.png")

    for png in (search_png, generate_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    print(f"screenshots: {search_png} {generate_png}")


def test_the_first_screen_greets_a_visitor(browser, space_url, kg, tmp_path):
    """Before any click: the first example code searched, its neighbourhood drawn, no empty table, the examples and
    the line saying the notes are synthetic and not medical advice. Its screenshot goes to $MEDSYN_SCREENSHOTS when
    set (the README's picture), else to the test's folder."""
    import os
    from pathlib import Path

    from medsyn_hf.space.codes import EXAMPLES

    browser.get(space_url)
    assert browser.wait(f"{q('#picture img')}?.naturalWidth") == 800  # drawn without a click
    best = kg.search(EXAMPLES[0])[0][0]
    assert browser.js(f"{q('#query textarea')}.value") == EXAMPLES[0]
    assert f"{best} — {kg.code(best)['name_ru']}" in browser.js(f"{q('#hierarchy')}.innerText")
    grids = browser.wait(
        "[...document.querySelectorAll('[role=grid]')].filter(g => g.offsetParent !== null)"
        ".map(g => [g.getAttribute('aria-label'), +g.getAttribute('aria-rowcount'),"
        " [...g.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()).filter(t => t).length])"
    )
    assert {label: rows - 1 for label, rows, _ in grids} == {  # every table on the first screen holds its rows
        "Matches": len(kg.search(EXAMPLES[0], limit=20)),
        "Symptoms (MKG weight 0-10)": len(kg.symptoms(best)),
    }
    assert all(cells > 0 for *_, cells in grids)
    examples = browser.js(f"{q('#code-examples')}.innerText")
    assert all(example in examples for example in EXAMPLES)
    disclaimer = browser.wait(f"{q('#disclaimer')}?.offsetParent !== null && {q('#disclaimer')}.innerText")
    assert "Synthetic, not medical advice" in disclaimer
    folder = Path(os.environ.get("MEDSYN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    png = browser.screenshot(folder / "space-first-screen.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
    print(f"first screen: {png}")


def test_each_tab_has_examples_and_a_clicked_one_runs(browser, space_url, kg):
    """gr.Examples on the Priors, Generate and Datasets tabs; a code example searches and draws at once."""
    from medsyn_hf.space.codes import EXAMPLES

    browser.get(space_url)
    browser.wait(f"{q('#picture img')}?.naturalWidth")
    for name, examples in (("Priors", "#prior-examples"), ("Generate", "#generate-examples")):
        browser.click(tab(name))
        assert browser.wait(f"{q(examples)}?.offsetParent !== null && {q(examples)}.innerText")
    browser.click(tab("Datasets"))
    assert browser.wait(f"{q('#dataset-examples')}?.offsetParent !== null && {q('#dataset-examples')}.innerText")
    browser.click(tab("ICD-10 codes"))
    example = EXAMPLES[1]
    best = kg.search(example)[0][0]
    button = f"[...document.querySelectorAll('#code-examples button')].find(b => b.innerText.trim() == '{example}')"
    browser.click(button)
    browser.wait(f"{q('#hierarchy')}?.innerText.includes({json.dumps(f'{best} — ')})")
    assert browser.js(f"{q('#code textarea')}.value") == best
