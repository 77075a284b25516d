"""The bot SIGKILLed while relaying, then started again: every event reaches the channel
at least once. Real RabbitMQ, real ngircd (no echo-message: receipts by PING/PONG; it reads
a flooding client slowly) and inspircd (echo-message; fakelag), SQLite and PostgreSQL state,
and the bot as a process: the ``kojibot`` installed from the wheel (tests/installed.py).
Duplicates are possible where the server had handled a line whose receipt the bot had not
read yet; they are printed. bench/killnine.py repeats each cell."""

import time

import pika
import pytest
import pytest_twisted

from tests.killrun import PACINGS, SERVERS, cell, kill_run


@pytest.mark.parametrize("pacing", PACINGS)
@pytest.mark.parametrize("server", SERVERS)
@pytest_twisted.ensureDeferred
async def test_sigkill_mid_stream_then_restart_loses_no_line(server, pacing, state, installed,
                                                             rabbitmq, request, tmp_path):
    port, events, line_rate = cell(request.getfixturevalue(server), server, pacing)
    result = await kill_run(installed, rabbitmq.url, port, state, tmp_path, events=events,
                            line_rate=line_rate)
    backend = "postgresql" if state.startswith("postgresql") else "sqlite"
    print(f"\nkill -9 on {server}, {pacing}, {backend}: {result}")
    assert result.killed_after < events, "the kill came after the stream ended"
    assert not result.lost, f"{len(result.lost)} lost: {result.lost[:10]}"
    if server == "inspircd":  # echo-message: the receipt comes as the line is handled
        assert result.duplicates == 0


def paced_publish(url, messages, seconds):
    """Publish (routing key, body) pairs spread over *seconds* (blocking; run in a thread)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    pause = seconds / len(messages)
    for routing_key, body in messages:
        channel.basic_publish("amq.topic", routing_key, body,
                              pika.BasicProperties(delivery_mode=2))
        time.sleep(pause)
    connection.close()
