"""/healthz and /metrics of the installed kojibot ([metrics] listen), against real peers:
a private ngircd and a private RabbitMQ node that these tests stop and start again, the
suite's ngircd, broker and Koji hub for the counts."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor, task, threads

from tests import CHECKOUT, ircd
from tests.busmessages import FEDORA_BUILD, fedora_build, lines_from, publish
from tests.ircuser import IRCUser
from tests.peers.test_installed_bot import hub_section, irc_section, said

_names = itertools.count(1)
NO_HUB = "[koji]\nserver = http://127.0.0.1:9/kojihub\n"  # nothing listens there


def fetch(port: int, path: str) -> tuple[int, str]:
    """Status and body of GET http://127.0.0.1:port/path (blocking: run in a thread)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def until(port: int, path: str, wanted, timeout: float = 60) -> tuple[int, str]:
    """Poll *path* until ``wanted(status, body)``; the answer, or AssertionError with the last."""
    deadline = reactor.seconds() + timeout
    while True:
        try:
            status, body = await threads.deferToThread(fetch, port, path)
        except OSError as exc:
            status, body = 0, str(exc)
        if wanted(status, body):
            return status, body
        if reactor.seconds() > deadline:
            raise AssertionError(f"{path} never as wanted in {timeout} s; last: {status} {body}")
        await task.deferLater(reactor, 0.2, lambda: None)


def healthz(status: int, reason: str | None = None):
    def wanted(got: int, body: str) -> bool:
        return got == status and (reason is None or reason in body)
    return wanted


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus text exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest_twisted.ensureDeferred
async def test_healthz_follows_the_irc_server_and_the_broker(installed, own_ngircd,
                                                             own_rabbitmq, tmp_path):
    n, port = next(_names), ircd.free_port()
    channel = f"#health-{n}"
    bot = installed.start(
        f"[bot]\nnick = healthy{n}\nstate = {tmp_path}/s.sqlite3\n" + NO_HUB
        + irc_section(own_ngircd, channel)
        + f"[amqp]\nurl = {own_rabbitmq.url}\nqueue = kojibot-health-{n}\n"
        + f"[metrics]\nlisten = 127.0.0.1:{port}\n", tmp_path)
    try:
        await bot.wait_log(rf"serving /healthz and /metrics on http://127\.0\.0\.1:{port}")
        _, body = await until(port, "/healthz", healthz(200))
        assert json.loads(body) == {"status": "ok", "role": "lead",
                                    "networks": {"irc": "connected"}, "bus": "consuming"}

        own_ngircd.stop()
        _, body = await until(port, "/healthz", healthz(503))
        assert json.loads(body) == {"status": "unhealthy", "role": "lead",
                                    "networks": {"irc": "disconnected"}, "bus": "consuming",
                                    "reasons": ["irc: disconnected"]}
        own_ngircd.start()
        await until(port, "/healthz", healthz(200))

        own_rabbitmq.stop()
        _, body = await until(port, "/healthz", healthz(503))
        assert json.loads(body)["reasons"] == [
            f"bus amqp://127.0.0.1:{own_rabbitmq.port}/%2F: not consuming"]
        _, metrics = await threads.deferToThread(fetch, port, "/metrics")
        assert samples(metrics)[("kojibot_connected", (("network", "bus"),))] == 0
        own_rabbitmq.start()
        await until(port, "/healthz", healthz(200))
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
DASHBOARD = CHECKOUT / "deploy" / "grafana-dashboard.json"


def exposed(text: str) -> set[str]:
    """Every series name a scrape may hold, labelled families with no sample yet included."""
    return {family.name + suffix for family in text_string_to_metric_families(text)
            for suffix in SERIES.get(family.type, ("",))}


def dashboard_metrics() -> set[str]:
    """The kojibot series the shipped Grafana dashboard charts."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {name for panel in panels for target in panel["targets"]
            for name in re.findall(r"\bkojibot_\w+", target["expr"])}


@pytest_twisted.ensureDeferred
async def test_metrics_count_what_was_sent(installed, kojihub, ngircd, rabbitmq, tmp_path):
    """7 matching events, 2 nobody wants, 3 malformed: each counter says exactly that."""
    n, port = next(_names), ircd.free_port()
    channel, nick, package = f"#metrics-{n}", f"counted{n}", f"metricpkg{n}"
    user = await IRCUser.connect(ngircd.port, f"mop{n}")
    await user.join(channel)
    bot = installed.start(
        f"[bot]\nnick = {nick}\nrate = 1000\ndigest_after = 50\nstate = {tmp_path}/s.sqlite3\n"
        + hub_section(kojihub) + irc_section(ngircd, channel)
        + f"[amqp]\nurl = {rabbitmq.url}\nqueue = kojibot-metrics-{n}\n"
        + f"[metrics]\nlisten = 127.0.0.1:{port}\n", tmp_path)
    try:
        await bot.wait_log(r"consuming kojibot-metrics-")
        await bot.wait_log(rf"joined {channel}")
        user.say(channel, f"!subscribe package {package} all")
        assert "Subscribed" in await said(user, nick, package)
        done = kojihub.facts["builds"]["complete"]["task_id"]
        user.say(channel, f"!task {done}")
        await said(user, nick, rf"Task {done} ")
        events = [(FEDORA_BUILD, fedora_build(770000 + i, package, 1)) for i in range(7)]
        events += [(FEDORA_BUILD, fedora_build(779000 + i, f"unwanted{n}", 1)) for i in range(2)]
        events += [(FEDORA_BUILD, b"{not json")] * 3
        await threads.deferToThread(publish, rabbitmq.url, events)
        _, text = await until(port, "/metrics", lambda status, body: status == 200 and samples(
            body).get(("kojibot_outbox_sent_total", ())) == 7, timeout=30)
        got = samples(text)
        assert got[("kojibot_events_consumed_total", ())] == 12
        assert got[("kojibot_events_rejected_total", ())] == 3
        assert got[("kojibot_events_relayed_total", ())] == 7
        assert got[("kojibot_outbox_rows", ())] == 0
        assert got[("kojibot_subscriptions", ())] == 1
        assert got[("kojibot_connected", (("network", "irc"),))] == 1
        assert got[("kojibot_connected", (("network", "bus"),))] == 1
        assert got[("kojibot_commands_total", (("command", "subscribe package"),))] == 1
        assert got[("kojibot_commands_total", (("command", "task"),))] == 1
        assert got[("kojibot_hub_call_seconds_count",
                    (("method", "multicall of getTaskInfo, getTaskChildren"),))] >= 1
        charted = dashboard_metrics()
        assert charted and charted <= exposed(text), charted - exposed(text)
        await said(user, nick, rf"^{package}-1\.0-770006\.fc41 ")
        relayed = [line for line in lines_from(user, nick) if line.startswith(f"{package}-")]
        assert len(relayed) == 7
    finally:
        await user.quit()
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


def _listening(pid: int, port: int) -> list[str]:
    """Local addresses of the TCP sockets of *pid* listening on *port* (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        found = re.fullmatch(r"socket:\[(\d+)\]", str(fd.readlink()) if fd.is_symlink() else "")
        if found:
            inodes.add(found.group(1))
    addresses = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            address, _, hexport = local.partition(":")
            if state == "0A" and inode in inodes and int(hexport, 16) == port:
                addresses.append(address)
    return addresses


@pytest_twisted.ensureDeferred
async def test_the_endpoint_binds_loopback_by_default(installed, tmp_path):
    """No listen key: 127.0.0.1:9180, and no other address (the IRC server configured is
    not there: the bot keeps trying, and stays up)."""
    bot = installed.start(f"[bot]\nstate = {tmp_path}/s.sqlite3\n" + NO_HUB
                          + f"[irc]\nhost = 127.0.0.1\nport = {ircd.free_port()}\ntls = no\n"
                          + "[metrics]\n", tmp_path)
    try:
        await bot.wait_log(r"serving /healthz and /metrics on http://127\.0\.0\.1:9180$")
        assert _listening(bot.pid, 9180) == ["0100007F"]  # 127.0.0.1, nothing else
        status, body = await threads.deferToThread(fetch, 9180, "/nowhere")
        assert status == 404 and "/healthz" in body
    finally:
        await bot.stop()


def test_check_config_refuses_a_bad_listen_in_one_line(installed, tmp_path):
    path = tmp_path / "bot.ini"
    path.write_text("[metrics]\nlisten = localhost:9180\n")
    run = installed.run(["check-config", str(path)], tmp_path)
    assert run.returncode == 1
    assert run.stderr == (f"{path}: metrics.listen: bad value 'localhost:9180': expected "
                          "ADDRESS:PORT with an IP address, e.g. 127.0.0.1:9180\n")


def test_without_prometheus_client_start_up_says_so_in_one_line(installed, tmp_path):
    """The section set, the library missing: one warning line, /healthz still served."""
    port = ircd.free_port()
    path = tmp_path / "bot.ini"
    path.write_text(f"[bot]\nstate = {tmp_path}/s.sqlite3\n{NO_HUB}[metrics]\n"
                    f"listen = 127.0.0.1:{port}\n")
    program = ("import sys; sys.modules['prometheus_client'] = None\n"
               "from kojibot.cli import main\n"
               f"sys.exit(main(['--console', '--config', {str(path)!r}]))")
    run = subprocess.run([str(installed.python), "-c", program], input="", text=True,
                         capture_output=True, timeout=60, cwd=tmp_path,
                         env=installed.environment(tmp_path))
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "prometheus_client" in line]
    assert len(warnings) == 1 and warnings[0].endswith(
        "[metrics] is set but prometheus_client is not installed: "
        "pip install 'kojibot[metrics]'; /metrics answers 501")
    assert "serving /healthz and /metrics on" in run.stderr
    assert "Traceback" not in run.stderr


@pytest_twisted.ensureDeferred
async def test_hub_calls_are_timed_and_their_errors_counted_by_method(kojihub, tmp_path):
    """txkoji's call observer feeds the bot's registry: one success, one hub fault."""
    import txkoji
    from kojibot import config
    from kojibot.bot import Bot
    from kojibot.health import Standing
    from kojibot.metrics import Metrics

    bot = Bot(config.parse(f"[bot]\nstate = {tmp_path}/s.sqlite3\n" + hub_section(kojihub)))
    metrics = Metrics(Standing(bot.koji, bot=bot))
    await bot.koji.call("getAPIVersion")
    with pytest.raises(txkoji.KojiException) as fault:
        await bot.koji.call("noSuchMethod")
    await bot.koji.close()
    got = samples(metrics.render().decode())
    assert got[("kojibot_hub_call_seconds_count", (("method", "getAPIVersion"),))] == 1
    assert got[("kojibot_hub_call_seconds_count", (("method", "noSuchMethod"),))] == 1
    assert got[("kojibot_hub_call_errors_total", (("error", type(fault.value).__name__),
                                                   ("method", "noSuchMethod")))] == 1
    assert not [key for key in got if key[0] == "kojibot_hub_call_errors_total"
                and ("method", "getAPIVersion") in key[1]]
