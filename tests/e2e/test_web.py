"""The web app in a real browser (Debian's /usr/bin/chromium via Playwright) against a real `datacoop up`.

One run of DataCoop's main job, every step a person takes done in the browser:

1. a requester (development account 1) creates a task, funds it on chain (approve + deposit) and adds
   two gold items;
2. a validator (account 3) stakes on chain and qualifies on the gold items with the keyboard; four more
   validators (accounts 4-7) do the same through the Python SDK, as other people in other places would;
3. a contributor (account 2) uploads four photos, one a near-copy of another: pre-screening rejects it
   with a visible reason, the others go to review;
4. the validators accept them (the browser's validator with the A key), an epoch settles on chain;
5. the contributor claims from the Earnings page and sees the balance rise by 3 x the reward;
6. the requester's dashboard shows progress, acceptance rate, rejections by cause, spend, the samples,
   and freezes a dataset version whose datasheet downloads.

Screenshots of every main page at desktop and phone width go to ``artifacts/screenshots`` (or
``$DATACOOP_SCREENSHOTS``). The console must stay free of errors; a 375-px phone must not scroll
sideways; the Chinese table must cover the app. DATACOOP_REQUIRE_BROWSER=1 makes a missing browser fail.
"""

from __future__ import annotations

import io
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageEnhance
from tests.e2e.conftest import RunningNode, start_node

from datacoop.api.web import DEFAULT_DIST
from datacoop.chain.client import ChainClient
from datacoop.chain.contracts import TestToken, ValidatorStaking
from datacoop.cid import cid_of_bytes
from datacoop.client import DataCoopClient, load_account
from datacoop.demo.images import Kind, generate

CHROMIUM = os.environ.get("DATACOOP_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("DATACOOP_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
TITLE = "Face masks in daylight"
REWARD = 5  # tokens per accepted item
SDK_VALIDATORS = (4, 5, 6, 7)
UNIT = 10**18


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
    settings = {
        "DATACOOP_DEV_ACCOUNTS": "8",  # operator, requester, contributor, five validators
        "DATACOOP_EPOCH_INTERVAL_SECONDS": "3",  # the chain loop settles accepted work on its own
        "DATACOOP_REVIEW_QUALIFY_GOLD": "2",  # the requester adds two gold items
    }
    node = start_node(tmp_path / "node", tmp_path / "up.log", settings=settings)
    yield node
    node.stop()


def _photos(tmp_path: Path) -> dict[str, Path]:
    """Three distinct photos, a near-copy of the first (brighter, re-encoded) and two gold items."""
    rng = random.Random(2026)
    good = generate([Kind.GOOD] * 4, rng)
    off = generate([Kind.OFF_TOPIC], rng)[0]
    original = Image.open(io.BytesIO(good[0].data))
    near = io.BytesIO()
    ImageEnhance.Brightness(original).enhance(1.05).save(near, "JPEG", quality=75)
    files = {
        "mask-1.jpg": good[0].data,
        "mask-2.jpg": good[1].data,
        "mask-3.jpg": good[2].data,
        "mask-1-again.jpg": near.getvalue(),
        "gold-good.jpg": good[3].data,
        "gold-off-topic.jpg": off.data,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return {name: tmp_path / name for name in files}


def _until(
    check: Callable[[], Any], timeout: float, what: str, step: Callable[[], None] | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if step is not None:
            step()
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_whole_loop_in_the_browser(up: RunningNode, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    files = _photos(tmp_path)
    gold_answers = {
        cid_of_bytes(files["gold-good.jpg"].read_bytes()): "a",
        cid_of_bytes(files["gold-off-topic.jpg"].read_bytes()): "r",
    }
    chain_info = _operator_health(up)["chain"]  # the chain's own RPC address is the operator's to read
    chain = ChainClient(chain_info["rpc_url"])
    token = TestToken(chain, chain_info["token"])
    account = {n: load_account(f"dev:{n}", data_dir=up.data_dir) for n in range(8)}
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)

    def shot(page: Page, name: str) -> None:
        """The page as it is, at desktop and at phone width (full length)."""
        page.set_viewport_size(DESKTOP)
        page.wait_for_timeout(300)
        page.screenshot(path=SHOTS / f"{name}-desktop.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(300)
        page.screenshot(path=SHOTS / f"{name}-phone.png", full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376)"
            ".slice(0, 3).map(e => e.tagName + '.' + e.className + ': ' + e.textContent.slice(0, 40))"
        )
        assert width <= PHONE["width"], f"{name}: the page is {width}px wide on a 375px phone: {wide}"
        page.set_viewport_size(DESKTOP)

    def sign_in(page: Page, n: int) -> None:
        if page.get_by_role("button", name="Sign out").count():
            page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name=f"Sign in as development account {n}").click()
        expect(page.get_by_test_id("signed-in")).to_contain_text(account[n].address)

    with sync_playwright() as pw, ExitStack() as clients:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=DESKTOP, locale="en-US", accept_downloads=True)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None
                ),
            )
            expect.set_options(timeout=30_000)
            nav = page.get_by_role("navigation")
            page.goto(up.url + "/")
            expect(page.get_by_role("heading", name="DEVELOPMENT wallet")).to_be_visible()
            shot(page, "01-sign-in")

            # 1. The requester creates the task; the form checks as you type
            sign_in(page, 1)
            expect(page.get_by_text("DEVELOPMENT WALLET", exact=True)).to_be_visible()
            nav.get_by_role("button", name="Create a task").click()
            title = page.get_by_label("Title", exact=True)
            title.fill("ab")
            expect(page.get_by_test_id("error-title")).to_have_text("At least 3 characters.")
            expect(title).to_have_attribute("aria-invalid", "true")
            title.fill(TITLE)
            expect(page.get_by_test_id("error-title")).to_have_count(0)
            page.get_by_label("Description and an example of a good item").fill(
                "Photos of people's protective face masks, outdoors in daylight, the mask filling the frame."
            )
            reward = page.get_by_label("Reward per item, in tokens (e.g. 5 or 0.5)")
            reward.fill("5.x")
            expect(page.get_by_test_id("error-reward_per_item")).to_be_visible()
            reward.fill(str(REWARD))
            page.get_by_label("How many items").fill("10")
            page.get_by_label("Consent text contributors sign").fill(
                "I took this photo and agree to its use for training AI models under CC-BY-4.0."
            )
            page.get_by_label("Labels validators may choose (comma-separated, optional)").fill(
                "surgical, respirator"
            )
            shot(page, "02-create-task")
            page.get_by_role("button", name="Create task").click()

            # ... funds it on chain: approve + deposit, then the node links the escrow task
            expect(page.get_by_role("heading", name=f"Dashboard: {TITLE}")).to_be_visible()
            page.get_by_label("Budget in DCT").fill("100")
            page.get_by_role("button", name="Approve and deposit").click()
            expect(page.get_by_test_id("fund-status")).to_contain_text("Funded: escrow task", timeout=60_000)
            expect(page.get_by_test_id("spend")).to_contain_text("100 DCT")

            # ... and adds two gold items with their answers
            for name, answer in (("gold-good.jpg", "accept"), ("gold-off-topic.jpg", "reject")):
                page.get_by_label("File", exact=True).set_input_files(str(files[name]))
                page.get_by_label("Correct answer").select_option(answer)
                page.get_by_role("button", name="Add gold item").click()
                expect(page.get_by_test_id("gold-status")).to_have_text("Gold item added.")
            expect(page.get_by_text("This task has 2.")).to_be_visible()

            # 2. Four validators elsewhere stake and qualify through the SDK
            staking = ValidatorStaking(chain, chain_info["staking"])
            sdk: dict[int, DataCoopClient] = {}
            for n in SDK_VALIDATORS:
                chain.send(account[n], token.approve(staking.address, 10 * UNIT).as_tx())
                chain.send(account[n], staking.stake(10 * UNIT).as_tx())
                sdk[n] = clients.enter_context(DataCoopClient(up.url, account=account[n]))
                sdk[n].login()
                while (queued := sdk[n].next_review()) is not None:
                    sdk[n].vote(queued, "accept" if gold_answers[queued.cid] == "a" else "reject")
                assert sdk[n].validator_record().qualified

            # ... and one in the browser: stake on chain, then the gold items with the keyboard
            sign_in(page, 3)
            nav.get_by_role("button", name="Review").click()
            expect(page.get_by_text("Stake first")).to_be_visible()
            page.get_by_label("Amount in DCT").fill("10")
            page.get_by_role("button", name="Stake", exact=True).click()
            expect(page.get_by_test_id("stake-status")).to_have_text("Staked.", timeout=60_000)
            expect(page.get_by_test_id("stake")).to_contain_text("10 DCT")
            item = page.get_by_test_id("review-item")
            for answered in (1, 2):
                expect(item).to_be_visible()
                cid = item.locator("figcaption .cid").inner_text()
                page.keyboard.press(gold_answers[cid])
                expect(page.get_by_test_id("voted")).to_have_text(f"Votes this session: {answered}")
            expect(page.get_by_test_id("standing")).to_contain_text("2 of 2 correct")
            expect(page.get_by_test_id("rewards")).to_have_text("0 DCT")  # this task pays no vote reward
            expect(page.get_by_test_id("queue-empty")).to_be_visible()

            # 3. The contributor submits four photos, one a near-copy of another
            sign_in(page, 2)
            nav.get_by_role("button", name="Open tasks").click()
            card = page.locator(".card", has_text=TITLE)
            expect(card).to_contain_text(f"{REWARD} DCT")
            shot(page, "03-open-tasks")
            card.get_by_role("button", name="Contribute to this task").click()
            expect(page.get_by_test_id("consent")).to_contain_text("I took this photo and agree")
            page.get_by_label("Files to submit").set_input_files(
                [str(files[n]) for n in ("mask-1.jpg", "mask-2.jpg", "mask-3.jpg", "mask-1-again.jpg")]
            )
            page.get_by_label("Your country").fill("KE")
            page.get_by_label("I have read the consent text and agree to it").check()
            page.get_by_role("button", name="Upload and sign").click()
            statuses = page.get_by_test_id("file-status")
            expect(statuses).to_have_count(4)
            for i in range(4):
                expect(statuses.nth(i)).to_contain_text("Submitted", timeout=60_000)
            shot(page, "04-contribute")

            # ... pre-screening rejects the copy with a reason the contributor can read
            nav.get_by_role("button", name="My submissions").click()
            rows = page.get_by_test_id("submission")
            expect(rows).to_have_count(4)
            rejected = page.locator("[data-testid=submission][data-state=rejected]")
            expect(rejected).to_have_count(1, timeout=120_000)
            expect(rejected.get_by_test_id("reasons")).to_contain_text(
                re.compile(r"near copy of submission \d+")
            )
            expect(page.locator("[data-testid=submission][data-state=in_review]")).to_have_count(
                3, timeout=120_000
            )
            shot(page, "05-my-submissions")

            # 4. The validators accept the rest: the browser's with the A key, the others through the SDK
            contributor = clients.enter_context(DataCoopClient(up.url, account=account[2]))
            contributor.login()
            sign_in(page, 3)
            nav.get_by_role("button", name="Review").click()
            browser_votes = 0

            def review_round() -> None:
                nonlocal browser_votes
                if item.count() and item.is_visible():
                    if browser_votes == 0:
                        shot(page, "06-review")
                    cid = item.locator("figcaption .cid").inner_text()
                    page.keyboard.press(gold_answers.get(cid, "a"))
                    browser_votes += cid not in gold_answers
                    page.wait_for_timeout(500)
                for client in sdk.values():
                    if (next_item := client.next_review()) is not None:
                        answer = gold_answers.get(next_item.cid, "a")
                        client.vote(next_item, "accept" if answer == "a" else "reject")

            def all_accepted() -> bool:
                states = [s.state for s in contributor.my_submissions()]
                return states.count("accepted") == 3 and states.count("rejected") == 1

            _until(all_accepted, 180, "the validators to accept the three photos", step=review_round)
            assert browser_votes >= 1, "the browser's validator never got a real item"

            # 5. An epoch settles on chain; the contributor claims in the browser and sees the balance rise
            sign_in(page, 2)
            before = token.balance_of(account[2].address)
            nav.get_by_role("button", name="Earnings").click()
            claim_button = page.get_by_role("button", name=re.compile(r"^Claim task \d+$"))
            expect(claim_button).to_be_enabled(timeout=120_000)
            # epochs close every 3 s: wait for the one that holds all three items
            expect(page.get_by_test_id("claimable")).to_have_text(f"{3 * REWARD} DCT", timeout=120_000)
            shown_before = page.get_by_test_id("balance").inner_text()
            claim_button.click()
            expect(page.get_by_test_id("claim-status")).to_contain_text(
                f"Claimed {3 * REWARD} DCT", timeout=60_000
            )
            expect(page.get_by_test_id("balance")).not_to_have_text(shown_before)
            assert token.balance_of(account[2].address) - before == 3 * REWARD * UNIT
            expect(claim_button).to_be_disabled()
            shot(page, "07-earnings")

            # 6. The requester's dashboard, filled by the run; a dataset version with its downloads
            sign_in(page, 1)
            nav.get_by_role("button", name="My tasks").click()
            page.get_by_role("button", name=f"Open the dashboard of {TITLE}").click()
            expect(page.get_by_test_id("progress")).to_have_text("3 of 10 accepted (30%)")
            expect(page.get_by_test_id("acceptance-rate")).to_have_text("75%")
            expect(page.get_by_test_id("causes")).to_contain_text("Duplicate of an earlier item")
            expect(page.get_by_test_id("spend")).to_contain_text(f"{3 * REWARD} DCT")
            images = page.get_by_test_id("gallery").locator("img")
            expect(images).to_have_count(3)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=gallery] img')]"
                ".every(i => i.complete && i.naturalWidth > 0)"
            )
            page.get_by_role("button", name="Freeze a new version of the accepted items").click()
            expect(page.get_by_test_id("ds-status")).to_contain_text("Version 1 frozen with 3 items")
            versions = page.get_by_test_id("versions")
            expect(versions).to_contain_text(TITLE)
            expect(versions).to_contain_text("published", timeout=60_000)
            with page.expect_download() as download:
                versions.get_by_role("link", name="Datasheet").click()
            datasheet = Path(download.value.path()).read_text()
            assert "3" in datasheet and TITLE in datasheet, datasheet[:500]
            shot(page, "08-requester-dashboard")

            # 中文: the whole app in Simplified Chinese, nothing left in English keys
            page.get_by_label("Language").select_option("zh-CN")
            expect(page.get_by_role("heading", name=f"仪表板\uff1a{TITLE}")).to_be_visible()
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            for view in ("开放任务", "我的提交", "收益", "审核", "我的任务", "创建任务"):
                nav.get_by_role("button", name=view).click()
                page.wait_for_timeout(300)
                text = page.locator("main").inner_text()
                assert not re.search(r"\b(nav|req|review|earn|stake|ds|fund|gold)\.[a-z]", text), (view, text)
            nav.get_by_role("button", name="我的任务").click()
            page.get_by_role("button", name=f"打开\u300c{TITLE}\u300d的仪表板").click()
            expect(page.get_by_test_id("acceptance-rate")).to_have_text("75%")
            expect(page.get_by_test_id("causes")).to_contain_text("与已有项目重复")
            shot(page, "09-chinese-dashboard")
        finally:
            browser.close()
    assert problems == [], problems
    assert len(list(SHOTS.glob("*-phone.png"))) >= 9


# An EIP-1193 wallet announced through EIP-6963, as a browser extension would: its keys are those the
# local anvil holds unlocked, so every request (accounts aside) goes to the node's chain itself.
def _operator_health(up: RunningNode) -> dict[str, Any]:
    with DataCoopClient(up.url, account=load_account("dev:0", data_dir=up.data_dir)) as operator:
        operator.login()
        return operator.health()


INJECTED_WALLET = """
(() => {
  const account = ACCOUNT, rpc = RPC;
  let id = 0;
  const provider = {
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      const response = await fetch(rpc, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }),
      });
      const body = await response.json();
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
      return body.result;
    },
    on() {},
    removeListener() {},
  };
  const info = Object.freeze({
    uuid: "4c2a1f7e-7a0b-4a57-9d3e-0d6f2b4f1a11",
    name: "Test Wallet",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='20' height='20'/%3E",
    rdns: "org.datacoop.test-wallet",
  });
  const detail = Object.freeze({ info, provider });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_injected_wallet_signs_in_funds_and_submits(up: RunningNode, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # Prepare: a wallet extension holding development account 4's key (unlocked in the local anvil)
    photo = tmp_path / "mask.jpg"
    photo.write_bytes(generate([Kind.GOOD], random.Random(4))[0].data)
    chain_info = _operator_health(up)["chain"]  # the chain's own RPC address is the operator's to read
    owner = load_account("dev:4", data_dir=up.data_dir).address
    script = INJECTED_WALLET.replace("ACCOUNT", repr(owner)).replace("RPC", repr(chain_info["rpc_url"]))
    token = TestToken(ChainClient(chain_info["rpc_url"]), chain_info["token"])
    before = token.balance_of(owner)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=DESKTOP, locale="en-US")
            page.add_init_script(script)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            expect.set_options(timeout=30_000)
            page.goto(up.url + "/")
            # Execute: sign in with the discovered wallet (SIWE through personal_sign) ...
            page.get_by_role("button", name="Sign in with Test Wallet").click()
            expect(page.get_by_test_id("signed-in")).to_contain_text(owner)
            expect(page.get_by_text("DEVELOPMENT WALLET", exact=True)).to_have_count(0)
            # ... create and fund a task (the wallet sends approve and openTask) ...
            nav = page.get_by_role("navigation")
            nav.get_by_role("button", name="Create a task").click()
            page.get_by_label("Title", exact=True).fill("Ventilation ducts")
            page.get_by_label("Description and an example of a good item").fill("Inside ducts, lit.")
            page.get_by_label("Consent text contributors sign").fill("I agree.")
            page.get_by_role("button", name="Create task").click()
            page.get_by_label("Budget in DCT").fill("12.5")
            page.get_by_role("button", name="Approve and deposit").click()
            expect(page.get_by_test_id("fund-status")).to_contain_text("Funded: escrow task", timeout=60_000)
            # ... and submit to it (the wallet signs the EIP-712 Submission)
            nav.get_by_role("button", name="Open tasks").click()
            page.locator(".card", has_text="Ventilation ducts").get_by_role("button").click()
            page.get_by_label("Files to submit").set_input_files(str(photo))
            page.get_by_label("Your country").fill("IN")
            page.get_by_label("I have read the consent text and agree to it").check()
            page.get_by_role("button", name="Upload and sign").click()
            expect(page.get_by_test_id("file-status")).to_contain_text("Submitted", timeout=60_000)
        finally:
            browser.close()
    # Assert: the wallet paid the budget from its own balance; nothing went wrong in the page
    assert before - token.balance_of(owner) == 125 * UNIT // 10
    assert problems == [], problems
