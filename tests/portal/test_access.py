"""Who gets in and what they may do: sessions, refusals, CSRF, pairs (httpx against a served portal)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.portal.conftest import Portal
from tests.portal.signin import ALLOWED, REFUSED, VIEWER, sign_in
from trestle.db import make_engine
from trestle.models.issues import IssueIn
from trestle.models.store import LinkStore

PAGES = (
    "/",
    "/review",
    "/runs",
    "/specs",
    "/specs/vendors",
    "/records/default/vendor/abc",
    "/runs/default/flow-runs/x",
)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found[1]


def _plant_issue(portal: Portal, pair: str, label: str) -> None:
    store = LinkStore(make_engine(portal.env["TRESTLE_DATABASE_URL"]), pair)
    store.reconcile_issues(
        "vendors",
        "vendor",
        {f"id-{label}": [IssueIn("contact.invalid_region", f"Region of {label} is not a region")]},
        labels={f"id-{label}": label},
    )


@pytest.mark.parametrize("path", PAGES)
def test_a_request_without_a_session_is_sent_to_sign_in(portal: Portal, path: str) -> None:
    response = httpx.get(portal.url + path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_posts_without_a_session_are_sent_to_sign_in_and_start_nothing(portal: Portal) -> None:
    for path in ("/runs/default/start", "/logout"):
        response = httpx.post(portal.url + path, data={"integration": "vendors", "mode": "run"})
        assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_an_allowed_user_signs_in_with_a_signed_httponly_expiring_cookie(portal: Portal) -> None:
    with httpx.Client() as client:
        landed = sign_in(client, portal.url, ALLOWED)
        assert landed.status_code == 303 and landed.headers["location"] == "/review"
        cookie = landed.headers["set-cookie"]
        assert cookie.startswith("trestle_session=") and "HttpOnly" in cookie and "Max-Age=28800" in cookie
        assert "samesite=lax" in cookie.lower()
        review = client.get(portal.url + "/review")
        assert review.status_code == 200
        assert "Alex Accounts" in review.text and ALLOWED in review.text
        runs = client.get(portal.url + "/runs")
        assert "Run in debug mode" in runs.text and "Single project by number" in runs.text


def test_a_user_who_is_not_allowed_is_refused_and_gets_no_session(portal: Portal) -> None:
    with httpx.Client() as client:
        answer = sign_in(client, portal.url, REFUSED)
        assert answer.status_code == 403
        assert "Sam Site is not allowed" in answer.text
        assert "trestle_session" not in client.cookies
        assert client.get(portal.url + "/review").status_code == 303


def test_a_post_without_the_csrf_token_is_refused(portal: Portal) -> None:
    with httpx.Client() as client:
        sign_in(client, portal.url, ALLOWED)
        token = _csrf(client.get(portal.url + "/runs").text)
        no_token = client.post(portal.url + "/logout", data={})
        assert no_token.status_code == 403 and "CSRF" in no_token.text
        wrong = client.post(
            portal.url + "/runs/default/start", data={"csrf": token[:-2] + "xx", "integration": "vendors"}
        )
        assert wrong.status_code == 403
        elsewhere = client.post(
            portal.url + "/logout", data={"csrf": token}, headers={"Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403
        assert client.get(portal.url + "/review").status_code == 200, "a refused logout must leave the session"
        out = client.post(portal.url + "/logout", data={"csrf": token})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert client.get(portal.url + "/review").status_code == 303


def test_a_tampered_session_cookie_is_no_session(portal: Portal) -> None:
    with httpx.Client() as client:
        sign_in(client, portal.url, VIEWER)
        value = client.cookies["trestle_session"]
        data, _, mac = value.partition(".")
        forged = data[:-3] + ("AAA" if data[-3:] != "AAA" else "BBB") + "." + mac
        response = httpx.get(portal.url + "/review", cookies={"trestle_session": forged})
        assert response.status_code == 303


def test_a_viewer_sees_issues_but_may_not_start_runs(portal: Portal) -> None:
    _plant_issue(portal, "default", "Nguyen Landscaping")
    with httpx.Client() as client:
        sign_in(client, portal.url, VIEWER)
        review = client.get(portal.url + "/review", params={"q": "nguyen"})
        assert "Nguyen Landscaping" in review.text and "contact.invalid_region" in review.text
        runs = client.get(portal.url + "/runs")
        assert "Run now" not in runs.text
        started = client.post(
            portal.url + "/runs/default/start", data={"csrf": _csrf(runs.text), "integration": "vendors"}
        )
        assert started.status_code == 403


def test_nobody_sees_a_pair_they_are_not_allowed_for(portal: Portal) -> None:
    _plant_issue(portal, "default", "Visible Glazing")
    _plant_issue(portal, "acme", "Hidden Plumbing")
    with httpx.Client() as client:
        sign_in(client, portal.url, ALLOWED)
        review = client.get(portal.url + "/review").text
        assert "Visible Glazing" in review and "Hidden Plumbing" not in review
        assert client.get(portal.url + "/records/acme/vendor/id-Hidden Plumbing").status_code == 404
        assert client.get(portal.url + "/records/default/vendor/id-Visible Glazing").status_code == 200


def test_a_callback_that_did_not_start_here_signs_nobody_in(portal: Portal) -> None:
    with httpx.Client() as client:
        client.get(f"{portal.url}/login/start")  # a login cookie with some state
        answer = client.get(f"{portal.url}/auth/callback", params={"code": "stolen", "state": "not-the-state"})
        assert answer.status_code == 400 and "sign in again" in answer.text
        assert "trestle_session" not in client.cookies


def test_review_links_a_linked_record_to_both_systems_and_shows_resolved_issues(portal: Portal) -> None:
    from trestle.models.links import LinkRow

    store = LinkStore(make_engine(portal.env["TRESTLE_DATABASE_URL"]), "default")
    store.save_links([LinkRow("vendor", "777", "contact-1", None, {"name": "Kauri Joinery"}, "Kauri Joinery")])
    found = {"contact-1": [IssueIn("vendor.write_rejected", "Procore said no")]}
    store.reconcile_issues("vendors", "vendor", found, labels={"contact-1": "Kauri Joinery"})
    with httpx.Client() as client:
        sign_in(client, portal.url, ALLOWED)
        review = client.get(portal.url + "/review", params={"q": "vendors"}).text
        company = portal.env["TRESTLE_PROCORE_COMPANY_ID"]
        assert f"{portal.env['TRESTLE_PROCORE_WEB_URL']}/{company}/company/vendors/777" in review
        assert f"{portal.env['TRESTLE_XERO_WEB_URL']}/Contacts/View/contact-1" in review
        assert "Correct the contact in Xero" in review  # the integration's fix for the code
        record = client.get(portal.url + "/records/default/vendor/contact-1").text
        assert "Kauri Joinery" in record and "Linked to Procore record" in record
        store.reconcile_issues("vendors", "vendor", {"contact-1": []}, labels={})
        assert "Kauri Joinery" not in client.get(portal.url + "/review").text
        resolved = client.get(portal.url + "/review", params={"resolved": "true"}).text
        assert "Kauri Joinery" in resolved and "Resolved" in resolved


def test_record_names_from_the_other_systems_are_shown_as_text_never_as_markup(portal: Portal) -> None:
    _plant_issue(portal, "default", "<script>alert(1)</script> Joinery")
    with httpx.Client() as client:
        sign_in(client, portal.url, ALLOWED)
        review = client.get(portal.url + "/review", params={"q": "joinery"}).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Joinery" in review and "<script>" not in review
