import pytest

from ibtrader.sim.faults import Fault, FaultSyntaxError, PendingFaults, parse_fault


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("drop", Fault("drop")),
        ("outage", Fault("outage", seconds=3.0)),
        ("outage:5", Fault("outage", seconds=5.0)),
        ("stall:0.5", Fault("stall", seconds=0.5)),
        ("reject", Fault("reject", reason="Simulated rejection")),
        ("reject:no shortable shares", Fault("reject", reason="no shortable shares")),
        ("PACING", Fault("pacing")),
    ],
)
def test_faults_parse(text, fault):
    assert parse_fault(text) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("outage:soon", "seconds must be a number"),
        ("stall:0", "above 0"),
        ("drop:3", "takes no argument"),
    ],
)
def test_bad_faults_are_refused_with_the_reason(text, message):
    with pytest.raises(FaultSyntaxError, match=message):
        parse_fault(text)


def test_one_shot_faults_fire_once_in_order():
    pending = PendingFaults()
    pending.arm(parse_fault("reject:first"))
    pending.arm(parse_fault("reject:second"))
    pending.arm(parse_fault("pacing"))
    assert pending.take_reject() == "first"
    assert pending.take_reject() == "second"
    assert pending.take_reject() is None
    assert pending.take_pacing() is True
    assert pending.take_pacing() is False
