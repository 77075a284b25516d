"""Which bus events are our hub's (kojibot.bus.origin), without a bus."""

from kojibot.bus.origin import HubOrigin
from txkoji.events import Event

HUB = "https://koji.example.test/kojihub"


def event(instance=None, host=None, key="org.fedoraproject.prod.buildsys.tag"):
    return Event(routing_key=key, dedupe_key="k", instance=instance, hub_host=host)


def test_the_instance_of_our_hub_is_learned_from_its_address():
    origin = HubOrigin(HUB)
    assert origin.ours(event())  # protonmsg: no instance, no address
    assert origin.ours(event("other"))  # no address, nothing learned yet: cannot tell
    assert not origin.ours(event("other", "koji.other.test"))
    assert origin.ours(event("primary", "koji.example.test"))
    assert origin.learned == "primary"
    assert not origin.ours(event("other"))
    assert origin.ours(event("primary"))
    assert origin.ours(event("primary", "proxy.example.test"))


def test_a_configured_instance_and_topic_prefix_decide_alone():
    origin = HubOrigin(HUB, instance="stg", topic_prefix="org.fedoraproject.stg.buildsys")
    assert not origin.ours(event("stg", key="org.fedoraproject.stg.buildsysx.tag"))
    assert not origin.ours(event("primary", "koji.example.test",
                                 key="org.fedoraproject.stg.buildsys.tag"))
    assert origin.ours(event("stg", "koji.stg.test", key="org.fedoraproject.stg.buildsys.tag"))
    protonmsg = HubOrigin(HUB, topic_prefix="koji")
    assert protonmsg.ours(event(key="koji.build.complete"))
    assert not protonmsg.ours(event(key="kojistg.build.complete"))
    assert not protonmsg.ours(event(key="stg.koji.build.complete"))
