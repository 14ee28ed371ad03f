from ibtrader.sim.pacing import HistoricalPacer, MessageRate, PacingRules


def test_fifty_messages_a_second_pass_the_fifty_first_does_not():
    rate = MessageRate(50)
    assert all(rate.allow(10.0 + i * 0.0001) for i in range(50))
    assert not rate.allow(10.0051)
    assert rate.last_second_count == 51


def test_a_sustained_rate_above_the_limit_is_caught():
    rate = MessageRate(50)
    results = [rate.allow(i / 60) for i in range(600)]  # 60 messages/s for 10 s
    assert not all(results)


def test_bursts_of_45_once_a_second_with_jitter_are_fine():
    rate = MessageRate(50)
    for second in range(10):
        jitter = 0.05 if second % 2 else 0.0
        assert all(rate.allow(second + jitter + i * 1e-5) for i in range(45))


def test_message_window_slides():
    rate = MessageRate(50)
    for i in range(50):
        rate.allow(10.0 + i * 0.01)
    assert rate.allow(11.2)


def test_identical_historical_request_within_fifteen_seconds_is_a_violation():
    pacer = HistoricalPacer(PacingRules())
    assert pacer.check(0.0, ("AAPL", "1 min"), ("AAPL",)) is None
    assert "identical" in pacer.check(14.0, ("AAPL", "1 min"), ("AAPL",))
    assert pacer.check(16.0, ("AAPL", "1 min"), ("AAPL",)) is None


def test_six_requests_for_one_contract_within_two_seconds_is_a_violation():
    pacer = HistoricalPacer(PacingRules())
    for i in range(5):
        assert pacer.check(i * 0.1, ("ES", i), ("ES",)) is None
    assert "same contract" in pacer.check(0.6, ("ES", 99), ("ES",))
    assert pacer.check(2.5, ("ES", 100), ("ES",)) is None


def test_sixty_requests_in_ten_minutes_then_a_violation():
    pacer = HistoricalPacer(PacingRules())
    for i in range(60):
        assert pacer.check(i * 3.0, (i,), (i,)) is None
    assert "10 minutes" in pacer.check(200.0, ("new",), ("new",))
    assert pacer.check(601.0, ("new",), ("new",)) is None


def test_disabled_rules_allow_everything():
    pacer = HistoricalPacer(PacingRules(enabled=False))
    assert all(pacer.check(0.0, ("same",), ("same",)) is None for _ in range(100))
