"""The official SDKs pointed at the proxy: dangerous calls never reach the parsed result,
benign ones arrive intact, streams parse, and blocked requests never reach upstream."""
import json
import os
import shutil
import time
import urllib.request

import anthropic
import openai
import pytest

from conftest import compile_policy

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
H = lambda s: {"x-test-scenario": s}
MSGS = [{"role": "user", "content": "do the task"}]


def oai(proxy):
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="sk-test", max_retries=0)


def ant(proxy):
    return anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-test", max_retries=0)


# ----- Anthropic Messages ------------------------------------------------------------------

def test_anthropic_stream_mixed_keeps_benign(proxy, up):
    with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=H("anth_mixed_stream")) as s:
        m = s.get_final_message()
    tools = [b for b in m.content if b.type == "tool_use"]
    assert [t.name for t in tools] == ["Bash"]
    assert tools[0].input == {"command": "echo hi", "description": "say hi"}
    texts = " ".join(b.text for b in m.content if b.type == "text")
    assert "Blocked by Crust: protect-ssh-keys" in texts
    assert m.stop_reason == "tool_use"
    assert len(up.requests()) == 1


def test_anthropic_stream_all_blocked_ends_turn(proxy, up):
    with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=H("anth_danger_stream")) as s:
        m = s.get_final_message()
    assert m.stop_reason == "end_turn"
    assert all(b.type != "tool_use" for b in m.content)


def test_anthropic_raw_stream_indices_contiguous(proxy, up):
    stream = ant(proxy).messages.create(model="m", max_tokens=64, messages=MSGS, stream=True, extra_headers=H("anth_mixed_stream"))
    starts = [e.index for e in stream if e.type == "content_block_start"]
    assert starts == list(range(len(starts)))


@pytest.mark.parametrize("scenario,kept,stop", [("anth_danger", [], "end_turn"), ("anth_mixed", ["Bash"], "tool_use"), ("anth_benign", ["Bash"], "tool_use")])
def test_anthropic_json(proxy, up, scenario, kept, stop):
    m = ant(proxy).messages.create(model="m", max_tokens=64, messages=MSGS, extra_headers=H(scenario))
    assert [b.name for b in m.content if b.type == "tool_use"] == kept
    assert m.stop_reason == stop


def test_anthropic_history_block_makes_no_upstream_call(proxy, up):
    history = [
        {"role": "user", "content": "read my key"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {"file_path": "~/.ssh/id_rsa"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "-----BEGIN"}]},
    ]
    m = ant(proxy).messages.create(model="m", max_tokens=64, messages=history, extra_headers=H("anth_benign"))
    assert m.stop_reason == "end_turn"
    assert "Blocked by Crust: protect-ssh-keys" in m.content[0].text
    assert up.requests() == []


def test_anthropic_headers_and_body_reach_upstream_unchanged(proxy, up):
    body = json.dumps({"model": "m", "max_tokens": 8, "messages": MSGS}, separators=(",", ":")).encode()
    req = urllib.request.Request(f"{proxy.url}/v1/messages?beta=true", data=body, method="POST", headers={
        "x-api-key": "sk-ant-secret", "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "content-type": "application/json", "x-test-scenario": "anth_benign", "x-custom": "kept"})
    with urllib.request.urlopen(req) as r:
        json.loads(r.read())
    [seen] = up.requests()
    assert seen["path"] == "/v1/messages?beta=true"
    assert seen["body"] == body.decode()
    h = seen["headers"]
    assert h["x-api-key"] == "sk-ant-secret"
    assert h["anthropic-version"] == "2023-06-01"
    assert h["anthropic-beta"] == "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert h["x-custom"] == "kept"


# ----- OpenAI Chat Completions ---------------------------------------------------------------

def test_chat_stream_mixed_renumbers(proxy, up):
    with oai(proxy).chat.completions.stream(model="m", messages=MSGS, extra_headers=H("chat_mixed_stream")) as s:
        msg = s.get_final_completion().choices[0].message
    assert [t.function.name for t in msg.tool_calls] == ["shell"]
    assert json.loads(msg.tool_calls[0].function.arguments) == {"command": ["ls", "-la"]}
    assert "Blocked by Crust: protect-cloud-credentials" in msg.content


def test_chat_stream_all_blocked(proxy, up):
    with oai(proxy).chat.completions.stream(model="m", messages=MSGS, extra_headers=H("chat_danger_stream")) as s:
        c = s.get_final_completion()
    assert c.choices[0].message.tool_calls is None
    assert c.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("scenario,kept,finish", [("chat_danger", None, "stop"), ("chat_mixed", ["shell"], "tool_calls"), ("chat_benign", ["shell"], "tool_calls")])
def test_chat_json(proxy, up, scenario, kept, finish):
    c = oai(proxy).chat.completions.create(model="m", messages=MSGS, extra_headers=H(scenario))
    calls = c.choices[0].message.tool_calls
    assert (None if calls is None else [t.function.name for t in calls]) == kept
    assert c.choices[0].finish_reason == finish


def test_chat_history_block(proxy, up):
    history = MSGS + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "shell", "arguments": json.dumps({"command": ["cat", "/home/user/.ssh/id_ed25519"]})}}]},
        {"role": "tool", "tool_call_id": "call_9", "content": "key"},
    ]
    c = oai(proxy).chat.completions.create(model="m", messages=history, extra_headers=H("chat_benign"))
    assert "Blocked by Crust" in c.choices[0].message.content
    assert up.requests() == []


# ----- OpenAI Responses ----------------------------------------------------------------------

CALLS = ("function_call", "custom_tool_call", "local_shell_call")


def test_responses_stream_danger(proxy, up):
    with oai(proxy).responses.stream(model="m", input="x", extra_headers=H("resp_danger_stream")) as s:
        r = s.get_final_response()
    assert not [o for o in r.output if o.type in CALLS]
    assert "Blocked by Crust" in r.output_text


def test_responses_stream_mixed(proxy, up):
    with oai(proxy).responses.stream(model="m", input="x", extra_headers=H("resp_mixed_stream")) as s:
        r = s.get_final_response()
    calls = [o for o in r.output if o.type in CALLS]
    assert [json.loads(c.arguments) for c in calls] == [{"cmd": "echo hello"}]


@pytest.mark.parametrize("scenario,kept", [("resp_danger", 0), ("resp_mixed", 1), ("resp_benign", 1)])
def test_responses_json(proxy, up, scenario, kept):
    r = oai(proxy).responses.create(model="m", input="x", extra_headers=H(scenario))
    assert len([o for o in r.output if o.type in CALLS]) == kept


@pytest.mark.parametrize("scenario,kept", [("resp_danger", 0), ("resp_mixed", 1)])
def test_responses_retrieved_later_are_judged_too(proxy, up, scenario, kept):
    r = oai(proxy).responses.retrieve("resp_123", extra_headers=H(scenario))
    assert len([o for o in r.output if o.type in CALLS]) == kept
    assert up.requests()[0]["method"] == "GET"


def test_stored_chat_completion_retrieved_later_is_judged(proxy, up):
    c = oai(proxy).chat.completions.retrieve("chatcmpl-123", extra_headers=H("chat_danger"))
    assert c.choices[0].message.tool_calls is None
    assert c.choices[0].finish_reason == "stop"


# ----- batches ------------------------------------------------------------------------------

def test_anthropic_batch_results_are_judged_line_by_line(proxy, up):
    results = {r.custom_id: r.result for r in ant(proxy).messages.batches.results(
        "msgbatch_1", extra_headers=H("anth_batch_results"))}
    assert set(results) == {"benign", "mixed", "danger", "failed"}
    uses = lambda m: [b for b in m.content if b.type == "tool_use"]
    assert len(uses(results["benign"].message)) == 1
    assert len(uses(results["mixed"].message)) == 1
    danger = results["danger"].message
    assert uses(danger) == [] and danger.stop_reason == "end_turn"
    assert "Blocked by Crust" in danger.content[-1].text
    assert results["failed"].type == "errored"
    # The batch object's results_url (on the provider's host) was pointed back at the proxy.
    assert [r["path"] for r in up.requests()] == [
        "/v1/messages/batches/msgbatch_1", "/v1/messages/batches/msgbatch_1/results"]


def test_anthropic_batch_results_that_cannot_be_read_are_refused(proxy, up):
    with pytest.raises(anthropic.APIStatusError) as e:
        list(ant(proxy).messages.batches.results(
            "msgbatch_1", extra_headers=H("anth_batch_results_broken")))
    assert e.value.status_code == 502 and "cannot be inspected" in str(e.value)


def test_anthropic_batch_with_a_dangerous_request_is_refused_without_upstream_call(proxy, up):
    history = MSGS + [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "cat ~/.aws/credentials"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    reqs = [
        {"custom_id": "fine", "params": {"model": "m", "max_tokens": 10, "messages": MSGS}},
        {"custom_id": "bad", "params": {"model": "m", "max_tokens": 10, "messages": history}},
    ]
    with pytest.raises(anthropic.BadRequestError) as e:
        ant(proxy).messages.batches.create(requests=reqs)
    assert "`bad`" in str(e.value) and "Blocked by Crust" in str(e.value)
    assert up.requests() == []
    ok = ant(proxy).messages.batches.create(requests=reqs[:1])
    assert ok.id == "msgbatch_1" and up.requests()[0]["path"] == "/v1/messages/batches"
    assert ok.results_url.startswith(proxy.url + "/v1/messages/batches/")
    listed = ant(proxy).messages.batches.list()
    assert all(b.results_url.startswith(proxy.url) for b in listed.data)


def test_openai_batch_output_file_is_judged(proxy, up):
    text = oai(proxy).files.content("file-out", extra_headers=H("oai_batch_output")).text
    lines = {l["custom_id"]: l["response"]["body"] for l in map(json.loads, text.splitlines())}
    assert lines["chat-danger"]["choices"][0]["message"].get("tool_calls") in (None, [])
    assert lines["chat-danger"]["choices"][0]["finish_reason"] == "stop"
    calls = [o for o in lines["resp-mixed"]["output"] if o["type"] in CALLS]
    assert len(calls) == 1
    assert lines["chat-benign"] == json.load(open(os.path.join(FIXTURES, "chat_benign.json")))


def batch_line(custom_id, url, body):
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": body})


def test_openai_batch_input_with_a_dangerous_request_is_refused(proxy, up):
    danger = {"model": "m", "messages": MSGS + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "Bash", "arguments": json.dumps({"command": "cat ~/.ssh/id_rsa"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}
    fine = {"model": "m", "input": "hello"}
    lines = [batch_line("fine", "/v1/responses", fine), batch_line("bad", "/v1/chat/completions", danger)]
    with pytest.raises(openai.BadRequestError) as e:
        oai(proxy).files.create(file=("in.jsonl", "\n".join(lines).encode()), purpose="batch")
    assert "`bad`" in str(e.value) and "Blocked by Crust" in str(e.value)
    assert up.requests() == []
    f = oai(proxy).files.create(file=("in.jsonl", lines[0].encode()), purpose="batch")
    assert f.id == "file-in" and up.requests()[0]["path"] == "/v1/files"
    # An upload for another purpose is not a batch: it passes as it is.
    oai(proxy).files.create(file=("notes.jsonl", lines[1].encode()), purpose="assistants")
    assert len(up.requests()) == 2


def test_other_files_pass_unchanged(proxy, up):
    raw = oai(proxy).files.content("file-in", extra_headers=H("plain_file")).content
    with open(os.path.join(FIXTURES, "plain_file.jsonl"), "rb") as f:
        assert raw == f.read()


# ----- the proxy itself ---------------------------------------------------------------------

def test_unknown_paths_pass_through(proxy, up):
    with urllib.request.urlopen(f"{proxy.url}/v1/models?limit=1000") as r:
        assert json.loads(r.read()) == {"data": []}
    assert up.requests()[0]["path"] == "/v1/models?limit=1000"


def health(proxy):
    with urllib.request.urlopen(f"{proxy.url}/crust/health") as r:
        return json.loads(r.read())


def test_metrics(proxy, up):
    with urllib.request.urlopen(f"{proxy.url}/crust/metrics") as r:
        text = r.read().decode()
    assert "crust_requests_total" in text and "crust_blocks_total{rule=" in text


def test_hot_swap_valid_then_invalid(proxy, up, tmp_path):
    before = health(proxy)["bundle"]
    # A valid new bundle (one more rule) replaces the old one by rename.
    rules = tmp_path / "extra.yaml"
    rules.write_text("version: 1\nrules:\n  - name: no-make-deploy\n    match: { command: 'make deploy' }\n    message: Deploys go through CI.\n")
    staged = str(tmp_path / "new.bin")
    compile_policy(staged, str(rules))
    os.replace(staged, proxy.policy)
    deadline = time.time() + 5
    while time.time() < deadline and health(proxy)["bundle"] == before:
        time.sleep(0.05)
    after = health(proxy)["bundle"]
    assert after["rules"] == before["rules"] + 1
    # A corrupt bundle is refused; the valid one keeps serving.
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not a bundle" * 10)
    os.replace(bad, proxy.policy)
    time.sleep(0.5)
    assert health(proxy)["bundle"] == after
    assert "new bundle refused" in proxy.log()
    with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=H("anth_danger_stream")) as s:
        assert s.get_final_message().stop_reason == "end_turn"


def test_anthropic_stream_cut_mid_call_is_refused(proxy, up):
    # The held call is never released; the SDK raises instead of ending the turn cleanly.
    with pytest.raises(anthropic.APIStatusError, match="closed it before message_stop"):
        with ant(proxy).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=H("anth_cut_stream")) as s:
            s.get_final_message()


def test_chat_custom_tool_stream_blocked(proxy, up):
    # Codex's free-form apply_patch (a `custom` tool call) adding a download-and-run to ~/.bashrc.
    stream = oai(proxy).chat.completions.create(model="m", messages=MSGS, stream=True, extra_headers=H("chat_custom_danger_stream"))
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Blocked by Crust: block-remote-code" in text
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


def test_chat_legacy_function_call_blocked(proxy, up):
    c = oai(proxy).chat.completions.create(model="m", messages=MSGS, extra_headers=H("chat_legacy_danger"))
    m = c.choices[0].message
    assert m.function_call is None and "protect-ssh-keys" in m.content
    assert c.choices[0].finish_reason == "stop"


# ----- --block-mode replace ----------------------------------------------------------------

BASH_TOOL = [{"name": "Bash", "description": "run", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}]


def test_replace_mode_anthropic_stream_echoes_notice(proxy_replace, up):
    with ant(proxy_replace).messages.stream(model="m", max_tokens=64, messages=MSGS, tools=BASH_TOOL, extra_headers=H("anth_danger_stream")) as s:
        m = s.get_final_message()
    [call] = [b for b in m.content if b.type == "tool_use"]
    assert call.id == "toolu_1" and call.name == "Bash"
    assert call.input["command"].startswith("echo 'Blocked by Crust: protect-ssh-keys")
    assert m.stop_reason == "tool_use"


def test_replace_mode_chat_json_uses_offered_shell(proxy_replace, up):
    tools = [{"type": "function", "function": {"name": "exec_command", "parameters": {"type": "object"}}}]
    c = oai(proxy_replace).chat.completions.create(model="m", messages=MSGS, tools=tools, extra_headers=H("chat_danger"))
    [call] = c.choices[0].message.tool_calls
    assert call.id == "call_1" and call.function.name == "exec_command"
    assert json.loads(call.function.arguments)["cmd"].startswith("echo 'Blocked by Crust")
    assert c.choices[0].finish_reason == "tool_calls"


def test_replace_mode_without_shell_tool_falls_back_to_notice(proxy_replace, up):
    with ant(proxy_replace).messages.stream(model="m", max_tokens=64, messages=MSGS, extra_headers=H("anth_danger_stream")) as s:
        m = s.get_final_message()
    assert m.stop_reason == "end_turn" and all(b.type != "tool_use" for b in m.content)


def test_only_the_latest_turn_is_judged(proxy, up):
    # An old turn that today's policy would block does not lock the conversation.
    history = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_7", "name": "Read", "input": {"file_path": "~/.ssh/id_rsa"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_7", "content": "denied"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_8", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_8", "content": "a b"}]},
    ]
    m = ant(proxy).messages.create(model="m", max_tokens=64, messages=history, extra_headers=H("anth_benign"))
    assert m.stop_reason == "tool_use"
    assert len(up.requests()) == 1


def test_responses_history_block(proxy, up):
    items = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "function_call", "call_id": "call_5", "name": "exec_command", "arguments": json.dumps({"cmd": "cat ~/.aws/credentials"})},
        {"type": "function_call_output", "call_id": "call_5", "output": "[default]"},
    ]
    r = oai(proxy).responses.create(model="m", input=items, extra_headers=H("resp_benign"))
    assert "Blocked by Crust: protect-cloud-credentials" in r.output_text
    assert up.requests() == []
