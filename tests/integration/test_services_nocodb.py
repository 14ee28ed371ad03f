"""`ibtrader services check | init` against a real NocoDB: the schema is reported missing
until `init` makes the base and tables, and a second `init` changes nothing."""

from __future__ import annotations

import pytest

from ibtrader.commands.services import check_nocodb, init
from ibtrader.config import Settings

pytestmark = pytest.mark.integration


def test_check_says_init_is_needed_then_init_creates_the_tables_once(noco, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", nocodb_url=noco.url,
                        nocodb_api_token=noco.api_token(), nocodb_base="services-test")
    before = check_nocodb(settings)
    assert before.failed and before.reachable and before.authenticated
    assert "no base 'services-test'" in before.line() and "ibtrader services init" in before.line()

    said: list[str] = []
    assert init(settings, said.append) == 0
    [created] = [s for s in said if s.startswith("nocodb")]
    assert "created base services-test" in created and "table decisions" in created

    after = check_nocodb(settings)
    assert not after.failed and after.schema is True, after.line()
    assert "6 tables" in after.line()

    said.clear()
    assert init(settings, said.append) == 0
    assert "nocodb  base 'services-test': already there" in said


def test_a_refused_token_fails_authentication_with_its_hint(noco, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", nocodb_url=noco.url,
                        nocodb_api_token="not-a-token")
    result = check_nocodb(settings)
    assert result.failed and result.reachable and result.authenticated is False
    assert "nocodb_api_token" in result.line()
