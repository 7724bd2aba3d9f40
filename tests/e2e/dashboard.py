"""Drives the dashboard in headless Chromium (Debian's package) with
Playwright, as a human would: sign in, filter sessions, read findings,
approve a gate. Prints one JSON object with what it saw.

Usage: dashboard.py BASE_URL PASSWORD GATED_SESSION FAILING_SESSION

Every form submission waits for the page it leads to to load before
anything on it is read, however slow the machine; Playwright's waits give
up (failing the script) after PATIENCE_MS, a guard against hangs only.
"""

import json
import os
import sys

from playwright.sync_api import sync_playwright

PATIENCE_MS = 60_000


def chromium_path():
    for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if os.path.exists(path):
            return path
    raise SystemExit("Chromium is not installed (Debian package `chromium`)")


def submit(page, selector):
    """Clicks a button that submits its form; returns once the page it leads to has loaded."""
    with page.expect_navigation():
        page.click(selector)


def main():
    base, password, gated, failing = sys.argv[1:5]
    seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"], headless=True
        )
        page = browser.new_page()
        page.set_default_timeout(PATIENCE_MS)
        page.set_default_navigation_timeout(PATIENCE_MS)

        # Not signed in: every page leads to the sign-in form.
        page.goto(f"{base}/ui/sessions")
        seen["redirected_to"] = page.url.removeprefix(base)
        page.fill("#password", "not the password")
        submit(page, "#sign-in")
        seen["wrong_password_error"] = page.is_visible("#login-error")
        page.fill("#password", password)
        submit(page, "#sign-in")
        seen["after_sign_in"] = page.url.removeprefix(base)

        # The session list and its filters.
        rows = page.locator("#sessions tr")
        seen["rows"] = rows.count() - 1
        page.select_option("#status", "awaiting_approval")
        submit(page, "#filter")
        seen["filtered_url"] = page.url.removeprefix(base)
        seen["filtered_rows"] = page.locator("#sessions tr").count() - 1
        seen["filtered_ids"] = page.locator("#sessions td a").all_inner_texts()

        # A failing session: findings at file:line, and its timeline.
        page.goto(f"{base}/ui/sessions/{failing}")
        seen["failing_where"] = page.locator(".findings td.where").all_inner_texts()
        seen["failing_timeline"] = page.locator("#timeline tr").count() - 1

        # The page may run no script at all (its Content-Security-Policy):
        # a script put into it cannot even make a request.
        seen["script_fetch"] = page.evaluate(
            """async (id) => {
                try {
                    await fetch(`/ui/sessions/${id}/decide`, {method: 'POST'});
                    return 'sent';
                } catch (e) {
                    return 'blocked';
                }
            }""",
            gated,
        )
        # A form without the page's token is refused, even with the
        # browser's own cookie.
        seen["forged_status"] = page.request.post(
            f"{base}/ui/sessions/{gated}/decide",
            form={"csrf": "forged", "decision": "approve"},
            headers={"Origin": base},
        ).status

        # The approvals page: approve the gate with a note.
        page.goto(f"{base}/ui/approvals")
        seen["gates"] = page.locator("section.gate").count()
        page.fill(f"#gate-{gated} input.note", "looks right to me")
        submit(page, f"#gate-{gated} button.approve")
        seen["after_approve_url"] = page.url.removeprefix(base).split("?")[0]
        seen["notice"] = page.inner_text("#notice")
        seen["status_after"] = page.inner_text("#status")
        page.goto(f"{base}/ui/approvals")
        seen["gates_after"] = page.locator("section.gate").count()
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
