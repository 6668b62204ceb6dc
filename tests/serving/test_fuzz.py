"""schemathesis against a real ``raigov serve`` process, from the server's own OpenAPI
document: valid and invalid requests for every route, a bounded number of examples per
route. No answer is a 500; every 4xx body names the problem; the responses match the
document; and every row the server answered for is in the lake exactly once, captured
(2xx) or quarantined (422), counted here from the requests themselves."""

from __future__ import annotations

import shutil
from collections import Counter

import duckdb
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from raigov.home import Home
from raigov.models.serving.server_process import ServerProcess, free_port

pytestmark = pytest.mark.slow

EXAMPLES_PER_ROUTE = 40
BODY_KEYS = {"predict": "rows", "log": "rows", "feedback": "labels"}
STORED_IN = {"predict": "predictions", "log": "predictions", "feedback": "feedback"}
SENT: Counter = Counter()   # (lake table, route) -> rows the server answered for


@pytest.fixture(scope="module")
def fuzz_server(template_home: Home, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz") / "home"
    shutil.copytree(template_home.root, root)
    server = ServerProcess.with_key(Home.resolve(root), free_port()).start()
    yield server
    server.stop()


def _route(path: str) -> str | None:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in BODY_KEYS else None


def _units(body: object, key: str) -> int:
    """Rows a request carries as the server counts them: each item of a non-empty list
    under ``key``, else the raw body as one."""
    items = body.get(key) if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) and items else 1


def test_no_route_answers_500_and_every_refusal_names_its_problem(fuzz_server) -> None:
    from schemathesis.generation.modes import GenerationMode

    api = schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json",
                                        headers=fuzz_server.headers)
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/healthz", "/v1/models", "/metrics", "/v1/events",
        "/v1/models/credit-risk/predict", "/v1/models/credit-risk/log",
        "/v1/models/credit-risk/feedback", "/v1/models/{name}/events"}
    for operation in operations:
        _fuzz(operation, GenerationMode.POSITIVE, fuzz_server)
        try:
            _fuzz(operation, GenerationMode.NEGATIVE, fuzz_server)
        except Unsatisfiable:   # nothing to get wrong: a GET without parameters
            assert not operation.body and not list(operation.iter_parameters()), operation.path


def _fuzz(operation, mode, server: ServerProcess) -> None:
    from hypothesis import given

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        _check(case, case.call(base_url=server.url, headers=server.headers, timeout=60))

    run()


def _check(case, response) -> None:
    where = f"{case.method} {case.path} -> {response.status_code}: {response.text[:300]}"
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance,
                                             response_schema_conformance])
    if 400 <= response.status_code < 500:
        assert response.json().get("detail"), where
    route = _route(case.path)
    if route is None:
        return
    if response.status_code == 200:
        SENT[(STORED_IN[route], route)] += len(case.body[BODY_KEYS[route]])
    elif response.status_code == 422:
        SENT[("quarantine", route)] += _units(case.body, BODY_KEYS[route])


def test_every_row_answered_for_is_captured_or_quarantined_exactly_once(fuzz_server) -> None:
    assert sum(SENT.values()) > 0, "the fuzz test sent nothing the server answered for"
    fuzz_server.stop()   # a graceful stop seals the spool
    lake = fuzz_server.home.lake
    con = duckdb.connect()

    def rows(table: str) -> int:
        files = list((lake / table).rglob("*.parquet")) if (lake / table).exists() else []
        if not files:
            return 0
        return con.execute("SELECT count(*) FROM read_parquet(?, union_by_name=true)",
                           [[str(f) for f in files]]).fetchone()[0]

    expected = Counter()
    for (table, _route_name), n in SENT.items():
        expected[table] += n
    tables = ("predictions", "feedback", "quarantine")
    assert {t: rows(t) for t in tables} == {t: expected[t] for t in tables}
