"""The WeChat client against the sandbox, over real HTTP: the error mapping the
reminder and login code rely on (transient vs final, token refresh)."""

from __future__ import annotations

import time

import pytest

from app.wechat.client import WeChatClient, WeChatError

SEND = "/cgi-bin/message/subscribe/send"
DATA = {"thing1": {"value": "高血压随访"}, "time2": {"value": "2026-11-25 09:00"}}


@pytest.fixture
def client(wechat_sandbox):
    c = WeChatClient(wechat_sandbox.url, "wx-demo-appid", "wx-demo-secret", 2.0)
    yield c
    c.close()


@pytest.fixture
def token(client):
    return client.fetch_stable_token()[0]


def send(client, token, touser="o-alice", data=DATA):
    return client.send_subscribe_message(token, touser, "tmpl-followup", "pages/index", data)


# Login ------------------------------------------------------------------------
def test_login_code_yields_openid_once(client, wechat_sandbox):
    session = client.code2session("o-alice:1")
    assert session["openid"] == "o-alice"
    assert session["unionid"] == "u-o-alice"
    assert session["session_key"]
    with pytest.raises(WeChatError) as err:
        client.code2session("o-alice:1")
    assert err.value.errcode == 40163 and not err.value.transient
    assert client.code2session("o-alice:2")["openid"] == "o-alice"
    assert wechat_sandbox.state()["codes_used"] == 2


def test_bad_login_code(client):
    with pytest.raises(WeChatError) as err:
        client.code2session("garbage")
    assert err.value.errcode == 40029
    assert not err.value.transient and not err.value.token_invalid


def test_wrong_credentials(wechat_sandbox):
    with pytest.raises(WeChatError) as err:
        WeChatClient(wechat_sandbox.url, "wx-other", "wx-demo-secret", 2.0).code2session("a:1")
    assert err.value.errcode == 40013
    with pytest.raises(WeChatError) as err:
        WeChatClient(wechat_sandbox.url, "wx-demo-appid", "nope", 2.0).fetch_stable_token()
    assert err.value.errcode == 40125
    assert "nope" not in str(err.value)


# Access token -------------------------------------------------------------------
def test_stable_token_is_reused_until_forced(client, wechat_sandbox):
    first, expires_in = client.fetch_stable_token()
    assert 7190 <= expires_in <= 7200
    assert client.fetch_stable_token()[0] == first
    assert wechat_sandbox.state()["tokens_issued"] == 1
    second, _ = client.fetch_stable_token(force_refresh=True)
    assert second != first
    assert wechat_sandbox.state()["tokens_issued"] == 2
    with pytest.raises(WeChatError) as err:
        send(client, first)
    assert err.value.errcode == 40001 and err.value.token_invalid
    assert send(client, second)["errcode"] == 0


def test_expired_token_gives_42001_until_refetched(client, wechat_sandbox, token):
    assert wechat_sandbox.expire_token() is True
    with pytest.raises(WeChatError) as err:
        send(client, token)
    assert err.value.errcode == 42001
    assert err.value.token_invalid and not err.value.transient
    fresh, _ = client.fetch_stable_token()
    assert fresh != token
    assert send(client, fresh)["errcode"] == 0


def test_missing_token(client):
    with pytest.raises(WeChatError) as err:
        send(client, "")
    assert err.value.errcode == 41001


# Subscribe messages ----------------------------------------------------------------
def test_send_is_recorded(client, wechat_sandbox, token):
    answer = send(client, token)
    assert answer["errcode"] == 0 and isinstance(answer["msgid"], int)
    send(client, token, touser="o-bob", data={"thing1": "复诊提醒", "date2": "2026-11-25"})
    items = wechat_sandbox.messages(touser="o-alice")
    assert len(items) == 1
    msg = items[0]
    assert msg["id"] == answer["msgid"]
    assert (msg["touser"], msg["template_id"], msg["page"]) == ("o-alice", "tmpl-followup", "pages/index")
    assert msg["data"] == DATA and msg["received_at"]
    assert len(wechat_sandbox.messages()) == 2
    wechat_sandbox.clear_messages()
    assert wechat_sandbox.messages() == []


@pytest.mark.parametrize(
    "data",
    [
        {"thing1": {"value": "x" * 21}},
        {"name1": {"value": "张" * 11}},
        {"phrase1": {"value": "已完成随访了"}},
        {"number1": {"value": "12a"}},
        {"time2": {"value": "next tuesday"}},
        {"character_string1": {"value": "A" * 33}},
        {"thing1": {"value": ""}},
    ],
)
def test_value_limits_give_47003(client, wechat_sandbox, token, data):
    with pytest.raises(WeChatError) as err:
        send(client, token, data=data)
    assert err.value.errcode == 47003 and not err.value.transient
    assert wechat_sandbox.messages() == []


def test_value_limits_accept_edges(client, token):
    data = {
        "thing1": "x" * 20,
        "name2": "张" * 10,
        "phrase3": "已完成",
        "number4": "1" * 32,
        "date5": "2026-11-25",
        "character_string6": "A" * 32,
    }
    assert send(client, token, data=data)["errcode"] == 0


def test_empty_touser_gives_40003(client, token):
    with pytest.raises(WeChatError) as err:
        send(client, token, touser="")
    assert err.value.errcode == 40003


# Injected faults -------------------------------------------------------------------------
def test_refusal_is_final(client, wechat_sandbox, token):
    wechat_sandbox.fault(SEND, errcode=43101)
    with pytest.raises(WeChatError) as err:
        send(client, token)
    assert err.value.errcode == 43101 and not err.value.transient
    assert send(client, token)["errcode"] == 0  # the fault fired once


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_busy_and_quota_are_transient(client, wechat_sandbox, token, errcode):
    wechat_sandbox.fault(SEND, errcode=errcode)
    with pytest.raises(WeChatError) as err:
        send(client, token)
    assert err.value.errcode == errcode and err.value.transient


def test_gateway_error_is_transient(client, wechat_sandbox, token):
    wechat_sandbox.fault(SEND, http_status=502, times=2)
    for _ in range(2):
        with pytest.raises(WeChatError) as err:
            send(client, token)
        assert err.value.http_status == 502 and err.value.transient
    assert wechat_sandbox.state()["pending_faults"] == {}
    assert send(client, token)["errcode"] == 0


def test_faults_queue_fifo_per_path(client, wechat_sandbox, token):
    wechat_sandbox.fault(SEND, errcode=-1)
    wechat_sandbox.fault(SEND, errcode=43101)
    codes = []
    for _ in range(2):
        with pytest.raises(WeChatError) as err:
            send(client, token)
        codes.append(err.value.errcode)
    assert codes == [-1, 43101]
    assert client.code2session("o-carol:1")["openid"] == "o-carol"  # other paths untouched


def test_slow_answer_is_a_transient_timeout(wechat_sandbox):
    impatient = WeChatClient(wechat_sandbox.url, "wx-demo-appid", "wx-demo-secret", 0.3)
    token, _ = impatient.fetch_stable_token()
    wechat_sandbox.fault(SEND, delay_ms=1000)
    started = time.monotonic()
    with pytest.raises(WeChatError) as err:
        send(impatient, token)
    assert time.monotonic() - started < 0.9
    assert err.value.errcode == -3 and err.value.transient
    assert token not in str(err.value)


def test_unreachable_server_is_transient():
    # Port 9 (discard) on loopback is closed in the test environment.
    with pytest.raises(WeChatError) as err:
        WeChatClient("http://127.0.0.1:9", "wx-demo-appid", "wx-demo-secret", 1.0).fetch_stable_token()
    assert err.value.errcode in (-2, -3) and err.value.transient
    assert "wx-demo-secret" not in str(err.value) and err.value.__cause__ is None


def test_bad_fault_is_refused(wechat_sandbox):
    import requests

    response = requests.post(
        wechat_sandbox.url + "/sandbox/faults",
        json={"path": "/cgi-bin/message/subscribe/sned", "errcode": -1},
        timeout=5,
    )
    assert response.status_code == 400


def test_unknown_path_is_json_404(wechat_sandbox):
    import requests

    response = requests.get(wechat_sandbox.url + "/nope", timeout=5)
    assert response.status_code == 404 and response.json()["errcode"] == 404


# Phone number ---------------------------------------------------------------------------
def test_phone_number(client, token):
    assert client.get_phone_number(token, "phone:13800138000") == "13800138000"
    with pytest.raises(WeChatError) as err:
        client.get_phone_number(token, "phone:123")
    assert err.value.errcode == 40029


def test_reset_clears_everything(client, wechat_sandbox, token):
    send(client, token)
    client.code2session("o-dan:1")
    wechat_sandbox.fault(SEND, errcode=-1)
    wechat_sandbox.reset()
    state = wechat_sandbox.state()
    assert (state["tokens_issued"], state["codes_used"], state["messages"]) == (0, 0, 0)
    assert state["pending_faults"] == {}
    with pytest.raises(WeChatError) as err:
        send(client, token)
    assert err.value.errcode == 40001
    assert client.code2session("o-dan:1")["openid"] == "o-dan"
