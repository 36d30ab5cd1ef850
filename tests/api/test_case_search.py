"""Finding cases: by creator (route and filter), by handle, by words in the summary or a public
reply (SQLite FTS5 and PostgreSQL full text), and unknown query parameters refused by name."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR


def _creator(creator_id: str, handle: str, summary: str) -> dict:
    return {
        **CREATOR,
        "creator": {**CREATOR["creator"], "id": creator_id, "handle": handle},
        "summary": summary,
    }


def _ids(api: ApiWorld, url: str, **params: object) -> list[str]:
    response = api.get(url, params=params)
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


@pytest.fixture
def three(api: ApiWorld) -> list[dict]:
    luna = api.open_case(_creator("cr_1042", "@lunabakes", "Channel taken over, 2FA changed"))
    luna_ads = api.open_case(_creator("cr_1042", "@lunabakes", "Brand ad account hijacked"))
    other = api.open_case(_creator("cr_7", "@othello", "Phishing e-mail stole the password"))
    return [luna, luna_ads, other]


def test_a_creators_cases_by_route_and_by_filter(api: ApiWorld, three: list[dict]) -> None:
    luna, luna_ads, other = three
    expected = sorted([luna["id"], luna_ads["id"]])

    assert sorted(_ids(api, "/v1/creators/cr_1042/cases")) == expected
    assert sorted(_ids(api, "/v1/cases", creator="cr_1042")) == expected
    assert _ids(api, "/v1/cases", handle="@othello") == [other["id"]]
    assert _ids(api, "/v1/creators/cr_none/cases") == []
    api.act(luna["id"], "resolve")
    assert _ids(api, "/v1/creators/cr_1042/cases", status="open") == [luna_ads["id"]]


def test_q_finds_words_in_the_summary_whatever_their_case(api: ApiWorld, three: list[dict]) -> None:
    luna, luna_ads, other = three

    assert _ids(api, "/v1/cases", q="TAKEN over") == [luna["id"]]
    assert _ids(api, "/v1/cases", q="hijacked") == [luna_ads["id"]]
    assert _ids(api, "/v1/cases", q="password phishing") == [other["id"]]
    assert _ids(api, "/v1/cases", q="password hijacked") == []
    assert _ids(api, "/v1/cases", q="account", creator="cr_1042") == [luna_ads["id"]]


def test_q_finds_public_replies_and_the_new_summary_not_notes(api: ApiWorld, three: list[dict]) -> None:
    luna, luna_ads, other = three
    api.act(luna["id"], "reply", message="We restored your recovery email")
    api.act(other["id"], "note", text="internal: recovery email suspicious")
    api.act(luna_ads["id"], "update_attributes", attributes={"summary": "Ads manager locked"})

    assert _ids(api, "/v1/cases", q="recovery email") == [luna["id"]]
    assert _ids(api, "/v1/cases", q="hijacked") == []
    assert _ids(api, "/v1/cases", q="ads manager") == [luna_ads["id"]]


def test_q_without_a_word_is_refused_naming_q(api: ApiWorld, three: list[dict]) -> None:
    response = api.get("/v1/cases", params={"q": '" * -'})
    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "q"
    # FTS syntax in q is read as words, never as an operator.
    assert _ids(api, "/v1/cases", q='taken" OR "hijacked') == []


@pytest.mark.parametrize(
    ("url", "bad"),
    [
        ("/v1/cases", "stauts"),
        ("/v1/creators/cr_1/cases", "q"),
        ("/v1/breaches", "clocks"),
        ("/v1/policies", "page"),
        ("/v1/cases/cs_x/events", "after"),
    ],
)
def test_unknown_query_parameters_are_refused_by_name(api: ApiWorld, url: str, bad: str) -> None:
    response = api.get(url, who="admin", params={bad: "1"})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0] == {
        "parameter": bad,
        "in": "query",
        "message": response.json()["errors"][0]["message"],
    }
    assert bad in response.json()["detail"]


def test_me_assigns_to_the_caller_and_lists_the_callers_cases(api: ApiWorld) -> None:
    mine, theirs, nobodys = api.open_case(), api.open_case(), api.open_case()

    assigned = api.act(mine["id"], "assign", assignee="me")
    api.act(theirs["id"], "assign", assignee="bo")

    assert assigned["assignee"] == "agent-1"  # the agent key's name
    assert _ids(api, "/v1/cases", assignee="me") == [mine["id"]]
    assert sorted(_ids(api, "/v1/cases", assignee="bo")) == [theirs["id"]]
    assert api.get("/v1/cases", who="auditor", params={"assignee": "me"}).json()["items"] == []
    body = {"action": {"action": "note", "text": "mine"}, "filter": {"assignee": "me"}}
    answer = api.post("/v1/cases/bulk-actions", json=body).json()
    assert [r["case_id"] for r in answer["results"]] == [mine["id"]]
    assert nobodys["id"] not in _ids(api, "/v1/cases", assignee="me")
    assert api.get("/v1/audit/verify", who="auditor").json()["clean"] is True
