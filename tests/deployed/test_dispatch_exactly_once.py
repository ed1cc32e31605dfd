"""Finding 2: with two dispatchers and a slow WeChat, every reminder reaches WeChat exactly once.

WeChat answers each send in 2.5 s (under the dispatchers' 3 s timeout), a claim is held for
15 s and a dispatcher claims 10 rows a round: a full batch takes 25 s, more than its lease.
The dispatchers start a moment apart, so the one that runs out of work first finds the other's
rows with an expired lease and takes them over; the one that claimed them first must not send
them as well.
"""

import time
from collections import Counter

import pytest

from tests.deployed.conftest import bind_with_credits, register_resident, wait_for

SEND = "/cgi-bin/message/subscribe/send"
DELAY_MS = 2500
# One send at a time, so a 10-row batch (25 s) outlives its 15 s lease and the other dispatcher
# takes rows over: the case the lease tokens exist for.
SLOW_DISPATCHER = {
    "WECHAT_TIMEOUT_MS": "3000",
    "NOTIFY_LEASE_SECONDS": "15",
    "NOTIFY_BATCH_SIZE": "10",
    "NOTIFY_SEND_CONCURRENCY": "1",
}
FIRST, LATER = 15, 5  # 15 due before the first dispatcher starts, 5 more once the second runs


@pytest.fixture
def residents(setup, doctor):
    return [bind_with_credits(setup, register_resident(setup, doctor, "派送")) for _ in range(FIRST + LATER)]


def _remind(setup, doctor, resident, n):
    response = setup.post(
        f"/api/v1/residents/{resident.id}/reminders",
        token=doctor["access_token"],
        json={"title": "测血压", "body": f"第{n}次提醒：请来测血压。"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _rows(deployment, ids):
    marks = ", ".join(str(int(i)) for i in ids)
    return deployment.sql(f"SELECT id, status, wechat_status FROM outbox WHERE id IN ({marks})")


def test_two_dispatchers_send_each_reminder_once(deployment, setup, doctor, residents):
    sandbox = deployment.sandbox
    openids = {r.openid for r in residents}
    with deployment.workers_paused():
        sandbox.fault(SEND, delay_ms=DELAY_MS, times=3 * len(residents))
        ids = [_remind(setup, doctor, r, n) for n, r in enumerate(residents[:FIRST])]
        first = deployment.start_dispatcher("slow-dispatcher-1", **SLOW_DISPATCHER)
        # The first takes a full batch; the second starts once that claim is made.
        wait_for(
            lambda: sum(r["status"] != "pending" for r in _rows(deployment, ids)) >= 10,
            20,
            "the first dispatcher's claim",
            deployment,
            step=0.1,
        )
        time.sleep(DELAY_MS / 1000)  # so the two batches do not end together
        second = deployment.start_dispatcher("slow-dispatcher-2", **SLOW_DISPATCHER)
        ids += [_remind(setup, doctor, r, n) for n, r in enumerate(residents[FIRST:], FIRST)]
        try:
            wait_for(
                lambda: all(r["status"] == "sent" for r in _rows(deployment, ids)),
                150,
                "every reminder to be sent",
                deployment,
            )
            # A dispatcher still busy with rows it no longer holds would send them late: wait
            # until WeChat has heard nothing for longer than two sends take.
            seen, quiet_since = -1, time.monotonic()
            while time.monotonic() - quiet_since < 2 * DELAY_MS / 1000 + 1:
                messages = sandbox.messages()
                if len(messages) != seen:
                    seen, quiet_since = len(messages), time.monotonic()
                time.sleep(0.5)
        finally:
            first.stop()
            second.stop()
            sandbox.reset()  # no fault left for later tests

    received = Counter(
        m["touser"] for m in messages if m["touser"] in openids and m["template_id"] == "tmpl-health_reminder"
    )
    twice = {openid: n for openid, n in received.items() if n != 1}
    assert not twice, f"reminders sent more than once: {twice}"
    assert set(received) == openids
    rows = _rows(deployment, ids)
    assert [(r["status"], r["wechat_status"]) for r in rows] == [("sent", "sent")] * len(ids)
