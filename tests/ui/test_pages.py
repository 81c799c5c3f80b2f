"""Sign-in, the session list, workspace isolation, CSRF, keys, machines, /docs offline."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import Console, UiHub, sign_in


def test_sign_in_with_a_wrong_then_the_right_key_and_sign_out(
    page: Any, hub: UiHub, console: Console
) -> None:
    console.expected.append("401")  # the wrong key's answer is a 401 page
    page.goto("/")
    page.wait_for_url("**/ui/signin?next=%2Fui")
    page.get_by_label("API key").fill("shk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That API key is not valid or has been revoked.")
    assert "shk_" not in page.url
    page.get_by_label("API key").fill(hub.key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "sessionhub_ui"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # script cannot read the key
    assert page.evaluate("JSON.stringify(localStorage)") == "{}"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/signin")
    page.goto("/ui")
    page.wait_for_url("**/ui/signin?next=%2Fui")


def make(http: httpx.Client, **spec: Any) -> str:
    made = http.post("/v1/sessions", json=spec)
    assert made.status_code == 201, made.text
    sid: str = made.json()["id"]
    return sid


def test_list_newest_first_search_filter_paging_and_nested_subagents(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        old = make(http, kind="generic", title="Quarterly report")
        parent = make(http, kind="agent", title="Planner")
        make(http, kind="agent", title="Helper subagent", parent_id=parent)
        for n in range(26):
            make(http, kind="generic", title=f"filler {n}")
        http.post(f"/v1/sessions/{old}/events", json={"type": "note", "payload": {"n": 1}})
    sign_in(page, hub.key)
    rows = page.locator("table.sessions tbody tr")
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("filler 25")  # newest first
    page.get_by_role("link", name="Older sessions").click()
    expect(page.get_by_role("link", name="Quarterly report")).to_be_visible()
    planner = page.locator("tr", has=page.get_by_role("link", name="Planner"))
    expect(planner.locator("xpath=following-sibling::tr[1]")).to_contain_text("Helper subagent")
    expect(page.locator("tr.child")).to_contain_text("subagent")
    page.get_by_role("searchbox", name="Search").fill("quarterly")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("generic")
    expect(rows.first.locator("td[data-label=Events]")).to_have_text("1")
    page.get_by_role("searchbox", name="Search").fill("")
    page.get_by_label("Kind").select_option("agent")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)  # Planner and, nested under it, its subagent
    page.get_by_label("Status").select_option("running")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No sessions match these filters.")).to_be_visible()


def test_another_workspaces_key_sees_nothing(page: Any, hub: UiHub, console: Console) -> None:
    console.expected.append("404")
    with hub.api() as http:
        sid = make(http, kind="generic", title="Alpha's secret plan")
    sign_in(page, hub.other_key)
    expect(page.get_by_text("No sessions.")).to_be_visible()
    page.goto(f"/ui/sessions/{sid}")
    expect(page.get_by_role("heading", name="Error 404")).to_be_visible()
    expect(page.get_by_text("Alpha's secret plan")).to_have_count(0)
    answer = page.request.get(f"/ui/sessions/{sid}/export.json")
    assert answer.status == 404
    live = page.request.get(f"/ui/sessions/{sid}/live")
    assert live.status == 404


def test_forms_need_the_csrf_token_and_this_origin(hub: UiHub) -> None:
    with hub.api() as http:
        sid = make(http, kind="generic", title="keep me")
    cookies = {"sessionhub_ui": hub.key}
    with httpx.Client(base_url=hub.url, cookies=cookies) as browser_like:
        page = browser_like.get(f"/ui/sessions/{sid}")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        for data, headers in [({}, {}), ({"csrf": "forged"}, {}),
                              ({"csrf": token}, {"Origin": "https://evil.example"}),
                              ({"csrf": token}, {"Sec-Fetch-Site": "cross-site"})]:  # fmt: skip
            refused = browser_like.post(f"/ui/sessions/{sid}/delete", data=data, headers=headers)
            assert refused.status_code == 403, (data, headers)
        assert (
            browser_like.get(
                f"/v1/sessions/{sid}", headers={"Authorization": f"Bearer {hub.key}"}
            ).status_code
            == 200
        )
        done = browser_like.post(f"/ui/sessions/{sid}/delete", data={"csrf": token},
                                 headers={"Origin": hub.url})  # fmt: skip
        assert done.status_code == 303
    with hub.api() as http:
        assert http.get(f"/v1/sessions/{sid}").status_code == 404


def test_keys_page_creates_a_key_shown_once_and_revokes_it(page: Any, hub: UiHub) -> None:
    sign_in(page, hub.key)
    page.get_by_role("link", name="Keys").click()
    page.get_by_label("Name").fill("ci-bot")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key").inner_text()
    assert secret.startswith("shk_")
    with hub.api(secret) as http:
        assert http.get("/v1/sessions").status_code == 200
    page.goto("/ui/keys")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke key ci-bot").click()
    expect(page.get_by_role("button", name="Revoke key ci-bot")).to_have_count(0)


def test_machines_page_adds_and_removes_a_machine(page: Any, hub: UiHub) -> None:
    sign_in(page, hub.key)
    page.get_by_role("link", name="Machines").click()
    expect(page.get_by_role("cell", name="tiny", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("big-gpu")
    page.get_by_label("Command").fill("python -m http.server {port}")
    page.get_by_label("GPU").fill("A100")
    page.get_by_label("Price per hour").fill("2.5")
    page.get_by_role("button", name="Add machine").click()
    expect(page.get_by_role("cell", name="A100")).to_be_visible()
    with hub.api() as http:
        assert "big-gpu" in [m["name"] for m in http.get("/v1/machines").json()["items"]]
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove machine big-gpu").click()
    expect(page.get_by_role("cell", name="A100")).to_have_count(0)


def test_docs_work_offline_and_authorize_takes_the_key(page: Any, hub: UiHub) -> None:
    page.goto("/docs")  # the page's context refuses every host but this server
    expect(page.get_by_role("heading", name="sessionhub")).to_be_visible()
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.get_by_role("textbox").fill(hub.key)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    dialog.get_by_role("button", name="Close").first.click()
    expect(page.locator(".opblock").first).to_be_visible()


UNNAMED = """() => [...document.querySelectorAll(
    'a, button, input:not([type=hidden]), select, textarea, [role=img]')]
  .filter(el => !((el.getAttribute('aria-label') || '').trim() || (el.textContent || '').trim()
                  || (el.labels && el.labels.length) || el.title || el.getAttribute('alt')))
  .map(el => el.outerHTML)"""


def test_pages_fit_a_390px_screen_and_every_control_has_a_name(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        sid = make(http, kind="generic", title="A rather long title " * 4)
        http.post(f"/v1/sessions/{sid}/events", json={"type": "note", "payload": {"x": "y" * 300}})
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, hub.key)
    for path in ("/ui", f"/ui/sessions/{sid}", "/ui/machines", "/ui/keys"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        assert page.evaluate(UNNAMED) == [], path
    page.keyboard.press("Tab")  # the first stop is the skip link
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"


def test_keyboard_alone_signs_in_and_opens_a_session(page: Any, hub: UiHub) -> None:
    with hub.api() as http:
        make(http, kind="generic", title="Reached by keyboard")
    page.goto("/ui")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(hub.key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui")
    page.get_by_role("link", name="Reached by keyboard").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Reached by keyboard")).to_be_visible()
    page.locator(".actions").get_by_role("button", name="Fork").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Forked")


def test_a_session_file_downloads_and_never_renders_as_a_page(hub: UiHub) -> None:
    hostile = b"<html><script>document.title='pwned'</script></html>"
    with hub.api() as http:
        sid = make(http, kind="generic", title="with a file")
        assert (
            http.put(f"/v1/sessions/{sid}/files/deep/page.html", content=hostile).status_code == 201
        )
    with httpx.Client(base_url=hub.url, cookies={"sessionhub_ui": hub.key}) as browser_like:
        page = browser_like.get(f"/ui/sessions/{sid}")
        assert f'href="/ui/sessions/{sid}/files/deep/page.html"' in page.text
        got = browser_like.get(f"/ui/sessions/{sid}/files/deep/page.html")
        assert got.status_code == 200 and got.content == hostile
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "sandbox"
        assert browser_like.get(f"/ui/sessions/{sid}/files/..%2F..%2Fetc%2Fpasswd").status_code in (
            400,
            404,
        )
    with httpx.Client(base_url=hub.url, cookies={"sessionhub_ui": hub.other_key}) as other:
        assert other.get(f"/ui/sessions/{sid}/files/deep/page.html").status_code == 404
