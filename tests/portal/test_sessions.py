"""Session cookies: signed with the install's key, expiring on their own, refused when altered."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trestle.portal.sessions import BadCookie, CookieSigner, Session, session_key


def test_a_session_survives_the_round_trip_and_nothing_else_does(tmp_path: Path) -> None:
    signer = CookieSigner(session_key(None, tmp_path))
    session = Session(user_id=7, name="Alex", email="alex@example.invalid", pairs={"acme": "run"})
    cookie = signer.session_cookie(session, 60)
    back = signer.session(cookie)
    assert (back.user_id, back.pairs, back.csrf) == (7, {"acme": "run"}, session.csrf)
    assert back.can_run("acme") and not back.can_see("beta")

    with pytest.raises(BadCookie):
        signer.session(signer.session_cookie(session, -1))  # expired
    with pytest.raises(BadCookie):
        CookieSigner(session_key("another install's secret", tmp_path)).session(cookie)
    data, _, mac = cookie.partition(".")
    with pytest.raises(BadCookie):
        signer.session(data.replace(data[5], "A" if data[5] != "A" else "B", 1) + "." + mac)
    with pytest.raises(BadCookie):
        signer.session(signer.dumps({"state": "x"}, 60))  # a login cookie is not a session


def test_the_kept_key_is_private_and_stable(tmp_path: Path) -> None:
    first = session_key(None, tmp_path)
    assert session_key(None, tmp_path) == first and len(first) == 32
    mode = stat.S_IMODE((tmp_path / "portal" / "session.key").stat().st_mode)
    assert mode == 0o600
