"""Bad broker settings say which field and what is allowed; a broker that is down never fails a commit."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from tests.integration.broker.support import STAGES, fill
from typer.testing import CliRunner

from datacoop.app import Node, build_node
from datacoop.cli import app
from datacoop.db.models import ScreeningJob
from datacoop.errors import InvalidInput, Unavailable
from datacoop.screening.broker import BrokerConfig, PrescreenBroker, check_broker_url
from datacoop.settings import Settings

DOWN = ["redis://127.0.0.1:1/0", "amqp://guest:guest@127.0.0.1:1/%2F"]  # nothing listens on port 1


@pytest.mark.parametrize("url", ["http://user:s3cret@example.org", "localhost:6379", "", "kafka://b:9092"])
def test_the_cli_refuses_a_bad_broker_url_naming_the_field(tmp_path: Path, url: str) -> None:
    result = CliRunner().invoke(app, ["worker", "--data-dir", str(tmp_path), "--broker", url])
    assert result.exit_code == 2
    assert "error [broker_url]: broker_url must start with one of redis://, rediss://, amqp://, amqps://" in (
        result.output
    )
    assert "s3cret" not in result.output


def test_settings_refuse_a_bad_broker_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATACOOP_BROKER_URL", "http://127.0.0.1:6379")
    with pytest.raises(ValidationError, match=r"broker_url must start with one of .* \(got http://\)"):
        Settings()


def test_check_broker_url_raises_invalid_input_with_the_limit() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_broker_url("nats://127.0.0.1:4222")
    assert caught.value.field == "broker_url"
    assert caught.value.limit == ["redis://", "rediss://", "amqp://", "amqps://"]
    assert check_broker_url("rediss://h:6380/0") == "rediss://h:6380/0"


@pytest.mark.parametrize("url", DOWN)
def test_publishing_to_a_broker_that_is_down_is_unavailable(url: str) -> None:
    queue = PrescreenBroker(BrokerConfig(url=url, queue="dc_down"), lambda _sid, _w: None)
    with pytest.raises(Unavailable) as caught:
        queue.publish(1)
    assert caught.value.field == "broker_url"
    assert not queue.offer(1)  # after a commit: logged, left to the sweeper


@pytest.mark.parametrize("url", DOWN)
def test_a_commit_succeeds_while_the_broker_is_down(tmp_path: Path, url: str) -> None:
    node = build_node(
        Settings(data_dir=tmp_path / "node", chain="off", stages=list(STAGES), broker_url=url),
        with_chain=False,
    )
    ids = fill(node, 2)
    with node.db.transaction() as s:
        assert [s.get(ScreeningJob, i).status for i in ids] == ["queued", "queued"]  # type: ignore[union-attr]
    node.close()


def test_without_a_broker_nothing_changes(node: Node) -> None:
    assert node.broker is None
    with pytest.raises(InvalidInput, match="no broker is configured"):
        node.start_broker_workers()
