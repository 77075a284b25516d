"""The one place an object picks its reactor."""

from twisted.internet.task import Clock

from txkoji.reactors import default_reactor


def test_a_given_reactor_is_kept_and_none_means_the_global_one():
    clock = Clock()
    assert default_reactor(clock) is clock
    from twisted.internet import reactor

    assert default_reactor() is reactor and default_reactor(None) is reactor
