"""A hub session travels as koji's does: in the query string and in headers."""

import pytest

import txkoji


def test_session_travels_in_query_and_headers():
    from urllib.parse import parse_qs, urlsplit

    from txkoji.auth import Session

    session = Session.from_login({"session-id": 12, "session-key": "12-abc"})
    session.callnum = 7
    query = parse_qs(urlsplit(session.url("https://hub.test/kojihub")).query)
    assert query == {"session-id": ["12"], "session-key": ["12-abc"], "callnum": ["7"]}
    assert session.headers() == {"Koji-Session-Id": "12", "Koji-Session-Key": "12-abc",
                                 "Koji-Session-Callnum": "7"}
    with pytest.raises(txkoji.KojiException, match="login answer has no session"):
        Session.from_login({"unexpected": True})
