"""Stream framing (issue 20, findings 4 and 12) with the official SDKs as clients.

Each scenario of `framing.py` is an event stream whose framing the SDKs read differently from
what a filter that trusts the upstream expects. Whatever the upstream does, no tool call that
reads `~/.ssh/id_rsa` may reach the client as a tool call: either the call was judged and
replaced by the block notice, or the proxy refused the stream and the SDK raises with the
proxy's reason. A stream the upstream cut makes the SDK raise. Near misses: ordinary streams
parse through the proxy exactly as they parse straight from the upstream.
"""
import json
import os

import anthropic
import openai
import pytest
from anthropic.lib.streaming._messages import accumulate_event

MSGS = [{"role": "user", "content": "go"}]
H = lambda s: {"x-test-scenario": s}
CALLS = ("function_call", "custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call")


def ant(url):
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test", max_retries=0)


def oai(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)


def fixture(name):
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", name)


def direct(up):
    return f"http://127.0.0.1:{up.port}"


def dangerous(obj):
    return "id_rsa" in json.dumps(obj)


# ----- Anthropic Messages --------------------------------------------------------------------

def anthropic_helper(url, scenario, headers=None):
    """The message `messages.stream()` ends with, or the exception the SDK raised."""
    try:
        with ant(url).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers={**H(scenario), **(headers or {})}) as s:
            return s.get_final_message(), None
    except Exception as e:  # noqa: BLE001 - which exception is part of the assertion
        return None, e


def anthropic_raw(url, scenario):
    """The message rebuilt from `create(stream=True)` with the SDK's own accumulator."""
    snapshot, bufs = None, {}
    try:
        for event in ant(url).messages.create(model="m", max_tokens=64, messages=MSGS, stream=True, extra_headers=H(scenario)):
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    except Exception as e:  # noqa: BLE001
        return snapshot, e
    return snapshot, None


def tool_uses(message):
    return [] if message is None else [b.model_dump() for b in message.content if b.type == "tool_use"]


def notice(message):
    return "" if message is None else " ".join(b.text for b in message.content if b.type == "text")


# What the proxy does with each: "blocked" (judged, the notice replaces the call) or "refused"
# (the framing cannot be accounted for: the stream ends with an error event the SDK raises).
ANTHROPIC = {
    "frame_anth_name_mismatch": "blocked",
    "frame_anth_delta_after_stop": "refused",
    "frame_anth_index_crossed": "refused",
    "frame_anth_index_reused": "refused",
    "frame_anth_escaped": "blocked",
    "frame_anth_unparseable_surrogate": "refused",
    "frame_anth_unparseable_deep": "refused",
    "frame_anth_start_with_content": "refused",
}


@pytest.mark.parametrize("scenario", sorted(ANTHROPIC))
@pytest.mark.parametrize("accumulate", [anthropic_helper, anthropic_raw], ids=["stream", "create"])
def test_anthropic_framing(proxy, up, scenario, accumulate):
    message, error = accumulate(proxy.url, scenario)
    assert not dangerous(tool_uses(message)), f"the client holds {tool_uses(message)}"
    if ANTHROPIC[scenario] == "blocked":
        assert error is None, error
        assert "Blocked by Crust: protect-ssh-keys" in notice(message)
        assert message.stop_reason == "end_turn"
    else:
        assert isinstance(error, anthropic.APIStatusError), error
        assert "crust: " in str(error)


@pytest.mark.parametrize("scenario", ["anth_benign_stream", "anth_mixed_stream", "frame_anth_text"])
def test_anthropic_ordinary_streams_parse_as_upstream_sent_them(proxy, up, scenario):
    through, error = anthropic_helper(proxy.url, scenario)
    assert error is None
    straight, _ = anthropic_helper(direct(up), scenario)
    if scenario == "anth_mixed_stream":
        # The blocked call became the notice; everything else is as the upstream sent it.
        assert [b.type for b in through.content] == ["text", "text", "tool_use"]
        assert "Blocked by Crust: protect-ssh-keys" in through.content[1].text
        through.content[1] = straight.content[1]
        through.stop_reason = straight.stop_reason
    assert through.model_dump() == straight.model_dump()


@pytest.mark.parametrize("scenario,where", [
    ("anth_cut_stream", "closed in a tool call"),
    ("frame_anth_closed_in_text", "closed in text"),
    ("frame_empty", "an empty stream"),
])
def test_anthropic_cut_stream_raises(proxy, up, scenario, where):
    for accumulate in (anthropic_helper, anthropic_raw):
        message, error = accumulate(proxy.url, scenario)
        assert isinstance(error, anthropic.APIStatusError), (where, error)
        assert "crust: " in str(error)
        assert not dangerous(tool_uses(message))


def test_anthropic_reset_mid_stream_raises(proxy, up):
    data = open(fixture("anth_benign_stream.sse"), "rb").read()
    message, error = anthropic_helper(proxy.url, "anth_benign_stream", {"x-test-cut-after": str(len(data) // 2)})
    assert isinstance(error, anthropic.APIStatusError), error
    assert "crust: " in str(error)


# ----- OpenAI Chat Completions ---------------------------------------------------------------

def chat_helper(url, scenario):
    try:
        with oai(url).chat.completions.stream(model="m", messages=MSGS, extra_headers=H(scenario)) as s:
            return s.get_final_completion(), None
    except Exception as e:  # noqa: BLE001
        return None, e


def chat_raw(url, scenario):
    """Every chunk `create(stream=True)` yields before it ends or raises."""
    chunks = []
    try:
        for c in oai(url).chat.completions.create(model="m", messages=MSGS, stream=True, extra_headers=H(scenario)):
            chunks.append(c.model_dump())
    except Exception as e:  # noqa: BLE001
        return chunks, e
    return chunks, None


CHAT = {
    "frame_chat_escaped_key": "blocked",
    "frame_chat_unparseable_surrogate": "refused",
    "frame_chat_unparseable_deep": "refused",
    "frame_chat_index_games": "refused",
    "frame_chat_call_after_finish": "refused",
}


@pytest.mark.parametrize("scenario", sorted(CHAT))
def test_chat_framing(proxy, up, scenario):
    completion, error = chat_helper(proxy.url, scenario)
    calls = [] if completion is None else (completion.choices[0].message.tool_calls or [])
    assert not dangerous([c.model_dump() for c in calls]), calls
    chunks, raw_error = chat_raw(proxy.url, scenario)
    # Every tool-call fragment the client saw, whether or not the stream ended well.
    fragments = [d.get("tool_calls") for c in chunks for d in [ch["delta"] for ch in c["choices"]]]
    assert not dangerous(fragments), fragments
    if CHAT[scenario] == "blocked":
        assert error is None and raw_error is None, (error, raw_error)
        message = completion.choices[0].message
        assert "Blocked by Crust: protect-ssh-keys" in message.content
        assert message.tool_calls is None and completion.choices[0].finish_reason == "stop"
    else:
        for e in (error, raw_error):
            assert isinstance(e, openai.APIError), e
            assert "crust: " in str(e)


@pytest.mark.parametrize("scenario", ["chat_benign_stream", "chat_mixed_stream", "frame_chat_text"])
def test_chat_ordinary_streams_parse_as_upstream_sent_them(proxy, up, scenario):
    through, error = chat_helper(proxy.url, scenario)
    assert error is None
    straight, _ = chat_helper(direct(up), scenario)
    if scenario == "chat_mixed_stream":
        # The blocked call is gone, the notice follows the text, the allowed call is renumbered.
        t, s = through.choices[0].message, straight.choices[0].message
        assert "Blocked by Crust: protect-cloud-credentials" in t.content
        assert t.content.startswith(s.content)
        drop_index = lambda c: {k: v for k, v in c.model_dump().items() if k != "index"}
        assert [drop_index(c) for c in t.tool_calls] == [drop_index(s.tool_calls[1])]
        return
    assert through.model_dump() == straight.model_dump()


def test_chat_cut_stream_raises(proxy, up):
    for accumulate in (chat_helper, chat_raw):
        _, error = accumulate(proxy.url, "frame_chat_closed_in_text")
        assert isinstance(error, openai.APIError), error
        assert "crust: " in str(error)


# ----- OpenAI Responses ----------------------------------------------------------------------

def responses_helper(url, scenario):
    """The final response of `responses.stream()`, every call snapshot its events carried, and
    the exception it raised."""
    snapshots = []
    try:
        with oai(url).responses.stream(model="m", input="x", extra_headers=H(scenario)) as s:
            for e in s:
                if e.type == "response.function_call_arguments.delta":
                    snapshots.append(e.snapshot)
            return s.get_final_response(), snapshots, None
    except Exception as e:  # noqa: BLE001
        return None, snapshots, e


def responses_raw(url, scenario):
    events = []
    try:
        for e in oai(url).responses.create(model="m", input="x", stream=True, extra_headers=H(scenario)):
            events.append(e.model_dump())
    except Exception as e:  # noqa: BLE001
        return events, e
    return events, None


RESPONSES = {
    "frame_resp_done_without_added": "blocked",
    "frame_resp_name_mismatch": "blocked",
    "frame_resp_in_progress_replaces": "kept",
    "frame_resp_id_reuse": "blocked",
    "frame_resp_delta_after_done": "refused",
    "frame_resp_unparseable": "refused",
}


def refusal(events):
    """The reason of the `response.failed` event that ends a refused stream."""
    last = events[-1] if events else {}
    assert last.get("type") == "response.failed", last
    return last["response"]["error"]["message"]


@pytest.mark.parametrize("scenario", sorted(RESPONSES))
def test_responses_framing(proxy, up, scenario):
    final, snapshots, error = responses_helper(proxy.url, scenario)
    assert not dangerous(snapshots), snapshots
    events, raw_error = responses_raw(proxy.url, scenario)
    # Codex runs the items of `output_item.done`; the SDK builds from those and the final output.
    items = [e["item"] for e in events if e["type"].startswith("response.output_item")]
    items += [o for e in events if isinstance(e.get("response"), dict) for o in e["response"].get("output") or []]
    assert not dangerous([i for i in items if i.get("type") in CALLS]), items
    assert raw_error is None
    outcome = RESPONSES[scenario]
    if outcome == "refused":
        assert error is not None
        assert refusal(events).startswith("crust: ")
        return
    assert error is None, error
    calls = [o for o in final.output if o.type in CALLS]
    assert not dangerous([c.model_dump() for c in calls])
    if outcome == "blocked":
        assert calls == [] and "Blocked by Crust: protect-ssh-keys" in final.output_text
    else:
        assert [json.loads(c.arguments) for c in calls] == [{"cmd": "echo hello"}]


@pytest.mark.parametrize("scenario", ["resp_benign_stream", "frame_resp_text"])
def test_responses_ordinary_streams_parse_as_upstream_sent_them(proxy, up, scenario):
    through, _, error = responses_helper(proxy.url, scenario)
    assert error is None
    straight, _, _ = responses_helper(direct(up), scenario)
    assert through.model_dump() == straight.model_dump()


def test_responses_mixed_stream_keeps_the_allowed_call(proxy, up):
    final, _, error = responses_helper(proxy.url, "resp_mixed_stream")
    assert error is None
    assert [json.loads(c.arguments) for c in final.output if c.type in CALLS] == [{"cmd": "echo hello"}]


def test_responses_cut_stream_raises(proxy, up):
    _, _, error = responses_helper(proxy.url, "frame_resp_closed_in_text")
    assert error is not None
    events, _ = responses_raw(proxy.url, "frame_resp_closed_in_text")
    assert refusal(events).startswith("crust: ")
