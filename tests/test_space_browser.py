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
