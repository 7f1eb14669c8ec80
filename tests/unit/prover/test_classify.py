import pytest

from orchestrator.clients.http import is_infrastructure_error, is_retryable_reply


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, "404 page not found"),
        (502, "502 Bad Gateway"),
        (503, "503 Service Unavailable"),
        (504, "504 Gateway Timeout"),
        (404, '{"0":"4","1":"0","2":"4"}'),
        (404, "Not Found"),
        (404, "<html><body>404 Not Found</body></html>"),
        (400, "<!DOCTYPE html><html>bad gateway</html>"),
        (503, '{"message": "maintenance"}'),
    ],
)
def test_infrastructure_replies_are_retried(status: int, body: str) -> None:
    assert is_infrastructure_error(status, body)
    assert is_retryable_reply(status, body, retry_all_5xx=False)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, '{"error": "bucket not found"}'),
        (404, '{"status": "not_found", "code": 404}'),
        (404, "query does not exist"),
        (400, '{"message": "invalid dedupId"}'),
        (401, '{"message": "unauthorized"}'),
        (422, "plain validation error"),
    ],
)
def test_api_errors_are_not_retried(status: int, body: str) -> None:
    assert not is_infrastructure_error(status, body)
    assert not is_retryable_reply(status, body, retry_all_5xx=True)


def test_json_500_is_retried_only_when_all_5xx_are() -> None:
    body = '{"message": "internal error"}'
    assert not is_retryable_reply(500, body, retry_all_5xx=False)  # Atlantic's rule
    assert is_retryable_reply(500, body, retry_all_5xx=True)  # SHARP's rule
