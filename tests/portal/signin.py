"""Signing in to the portal through the Procore sandbox's authorize page, as a browser would, with httpx."""

from __future__ import annotations

import re
from html import unescape

import httpx

ALLOWED = "alex.accounts@ironbark.sandbox.invalid"  # the accountant, allowed and may run
VIEWER = "pat.projects@ironbark.sandbox.invalid"  # allowed by user id, may only look
REFUSED = "sam.site@ironbark.sandbox.invalid"  # in the company, but not allowed in the portal


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's form."""
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    }


def sign_in(client: httpx.Client, portal_url: str, login: str) -> httpx.Response:
    """Start at the portal's sign-in link, pick ``login`` on Procore's page, and come back: the final answer."""
    to_procore = client.get(f"{portal_url}/login/start")
    assert to_procore.status_code == 303, to_procore.text
    form_page = client.get(to_procore.headers["location"])
    assert form_page.status_code == 200, form_page.text
    authorize_url = str(form_page.url).split("?")[0]
    back = client.post(authorize_url, data={**hidden_fields(form_page.text), "login": login})
    assert back.status_code == 302, back.text
    return client.get(back.headers["location"])
