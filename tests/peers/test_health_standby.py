"""A standby says so: two installed kojibots on one PostgreSQL, each with its own [metrics]
port, on the suite's ngircd and RabbitMQ. The standby answers /healthz 200 with its role, the
lead with its role, term, networks and bus; /metrics gives kojibot_lead and the term. After
the lead is SIGKILLed the survivor answers as the lead, and a third process started on the
dead one's port answers as the standby."""

from __future__ import annotations

import json
import os
import signal

import pytest_twisted
from twisted.internet import threads

from tests import ircd
from tests.peers.test_failover import config
from tests.peers.test_health_e2e import fetch, healthz, samples, until

STANDBY = {"status": "ok", "role": "standby"}


def lead_with(term: int) -> dict:
    return {"status": "ok", "role": "lead", "term": term, "networks": {"irc": "connected"},
            "bus": "consuming"}


async def roles(port: int) -> dict:
    """``kojibot_lead`` and ``kojibot_lease_term`` (if given) on *port*'s /metrics."""
    status, text = await threads.deferToThread(fetch, port, "/metrics")
    assert status == 200, text
    got = samples(text)
    return {name: got[(name, ())] for name in ("kojibot_lead", "kojibot_lease_term")
            if (name, ()) in got}


@pytest_twisted.ensureDeferred
async def test_the_standby_answers_standby_and_the_roles_swap_after_a_kill(
        installed, rabbitmq, ngircd, postgresql, tmp_path):
    postgresql.empty()
    text = config(postgresql, rabbitmq, ngircd, "standing", "#standing", "kojibot-standing")
    ports = [ircd.free_port(), ircd.free_port()]

    def start(name: str, port: int):
        return installed.start(text + f"[metrics]\nlisten = 127.0.0.1:{port}\n",
                               tmp_path / name, "--log-level", "info")

    first = start("first", ports[0])
    bots = [first]
    try:
        found = await first.wait_log(r"leading as term (\d+)", timeout=30)
        term = int(found.group(1))
        second = start("second", ports[1])
        bots.append(second)
        await second.wait_log(r"serving /healthz and /metrics", timeout=30)
        await second.wait_log(r"waiting for the lead", timeout=30)

        status, body = await threads.deferToThread(fetch, ports[1], "/healthz")
        assert (status, json.loads(body)) == (200, STANDBY)
        _, body = await until(ports[0], "/healthz", healthz(200))
        assert json.loads(body) == lead_with(term)
        assert await roles(ports[0]) == {"kojibot_lead": 1, "kojibot_lease_term": term}
        assert await roles(ports[1]) == {"kojibot_lead": 0}

        os.kill(first.pid, signal.SIGKILL)
        await second.wait_log(r"leading as term \d+", timeout=20)
        _, body = await until(ports[1], "/healthz", healthz(200, '"role": "lead"'), timeout=60)
        assert json.loads(body) == lead_with(term + 1)
        assert await roles(ports[1]) == {"kojibot_lead": 1, "kojibot_lease_term": term + 1}

        third = start("third", ports[0])
        bots.append(third)
        await third.wait_log(r"waiting for the lead", timeout=30)
        _, body = await until(ports[0], "/healthz", healthz(200), timeout=30)
        assert json.loads(body) == STANDBY
        assert await roles(ports[0]) == {"kojibot_lead": 0}
        status, body = await threads.deferToThread(fetch, ports[1], "/healthz")
        assert (status, json.loads(body)["role"]) == (200, "lead")
    finally:
        for bot in bots[1:]:
            assert await bot.stop() == 0
        await first.stop()
    for bot in bots:
        assert "Traceback" not in bot.log()
