"""The console's checkpoint page under the 国密 suite: the SM3 root and the SM2 signature are
shown as the API gives them, and the verdict covers both; the chained logs' rows, written under
it, are SM3."""

from __future__ import annotations

import pytest

from tests.api.test_console_audit import (
    browser,
    csrf_of,
    part_of,
    signed_in,
    staff,
    table_rows,
)

pytestmark = pytest.mark.api
__all__ = ["browser", "staff"]  # fixtures, used by name


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"crypto_suite": "gm"})


async def test_the_checkpoint_page_shows_the_sm3_root_and_the_sm2_signature(browser, staff):
    await signed_in(browser, staff["auditor"])
    empty = await browser.get("/console/audit/checkpoint")
    made = await browser.post("/console/audit/checkpoint", data={"csrf_token": csrf_of(empty.text)})
    page = (await browser.get(made.headers["location"])).text
    latest = (await browser.get("/v1/audit/checkpoints/latest")).json()
    assert f'<code id="sm3-root">{latest["sm3_root"]}</code>' in page
    assert f'<code id="sm2-signature">{latest["sm2"]["signature"]}</code>' in page
    assert f'<code id="sm2-key-id">{latest["sm2"]["key_id"]}</code>' in page
    assert "核验通过" in part_of(page, r'id="checkpoint-verdict">(.*?)</p>')
    # The staff accounts of the set-up went into the admin log under this suite: SM3 rows.
    chains = {cells[0]: cells for _, cells, _ in table_rows(page, "chains")}
    admin_rows = int(chains["管理日志"][2])
    assert f"（SM3 {admin_rows} 条）" in chains["管理日志"][-1]
