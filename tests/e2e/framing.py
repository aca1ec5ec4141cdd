"""Event streams that play games with SSE framing (issue 20, findings 4 and 12).

Each scenario is what a non-conforming or compromised upstream could send: the SDKs parse it in
a way a filter that trusts the upstream's framing does not expect, so a tool call the policy
blocks (reading `~/.ssh/id_rsa`) would reach the client unjudged. `mock_upstream.py` serves
them by name (`x-test-scenario: <name>`), one event per chunk as the fixtures are.
"""
import itertools
import json

SSH_READ = {"file_path": "~/.ssh/id_rsa"}
NOTES_READ = {"file_path": "/tmp/notes.txt"}


def ev(name, obj):
    """One event with an `event:` line (none when `name` is None) and its JSON data."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(obj)}\n\n"


def raw(name, text):
    """One event whose data is written as given (JSON Python accepts but serde refuses)."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {text}\n\n"


# ----- Anthropic Messages --------------------------------------------------------------------

MSG_START = {"type": "message_start", "message": {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}


def a(kind, **fields):
    return ev(kind, {"type": kind, **fields})


def start(index, block):
    return a("content_block_start", index=index, content_block=block)


def tool(name, input=None, id="toolu_1"):
    return {"type": "tool_use", "id": id, "name": name, "input": input or {}}


def json_delta(index, text):
    return a("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": text})


def text_delta(index, text):
    return a("content_block_delta", index=index, delta={"type": "text_delta", "text": text})


def stop(index):
    return a("content_block_stop", index=index)


def tail(reason="tool_use"):
    return (a("message_delta", delta={"stop_reason": reason, "stop_sequence": None}, usage={"output_tokens": 9})
            + a("message_stop"))


def anth(*events, end=True):
    return ev("message_start", MSG_START) + "".join(events) + (tail() if end else "")


ANTHROPIC = {
    # (a) The `event:` name says delta, the data is the start of a tool_use block: the SDK
    # dispatches on the data's `type`.
    "frame_anth_name_mismatch": anth(
        ev("content_block_delta", {"type": "content_block_start", "index": 0, "content_block": tool("Read")}),
        json_delta(0, json.dumps(SSH_READ)),
        stop(0)),
    # (b) A harmless block, its stop, then a delta the SDK still applies to it.
    "frame_anth_delta_after_stop": anth(
        start(0, tool("Read", NOTES_READ)),
        stop(0),
        json_delta(0, json.dumps(SSH_READ))),
    # (c) Index games: the second call's deltas address the first (allowed) call.
    "frame_anth_index_crossed": anth(
        start(0, tool("Read", NOTES_READ)),
        stop(0),
        start(1, tool("Bash", id="toolu_2")),
        json_delta(0, json.dumps(SSH_READ)),
        json_delta(1, json.dumps({"command": "ls"})),
        stop(1)),
    # (c) A reused index: a text block started at 0 again, then a delta for 0.
    "frame_anth_index_reused": anth(
        start(0, tool("Read", NOTES_READ)),
        stop(0),
        start(0, {"type": "text", "text": ""}),
        json_delta(0, json.dumps(SSH_READ)),
        stop(0)),
    # (d) Keys and values spelled with escapes: serde and Python decode them alike.
    "frame_anth_escaped": ev("message_start", MSG_START)
        + raw("content_block_start", '{"type": "content_block\\u005fstart", "index": 0, "content_block": '
              '{"type": "tool\\u005fuse", "id": "toolu_1", "name": "R\\u0065ad", "input": {}}}')
        + raw("content_block_delta", '{"type": "content_block_delta", "index": 0, "delta": '
              '{"type": "input_json\\u005fdelta", "partial\\u005fjson": "{\\"file_path\\": \\"~/.ssh/id_rsa\\"}"}}')
        + stop(0) + tail(),
    # (e) A start serde refuses (a lone surrogate in the id) that Python's json accepts.
    "frame_anth_unparseable_surrogate": ev("message_start", MSG_START)
        + raw("content_block_start", '{"type": "content_block_start", "index": 0, "content_block": '
              '{"type": "tool_use", "id": "toolu_\\ud800", "name": "Read", "input": {}}}')
        + json_delta(0, json.dumps(SSH_READ)) + stop(0) + tail(),
    # (e) The same with a field nested deeper than serde's limit.
    "frame_anth_unparseable_deep": ev("message_start", MSG_START)
        + raw("content_block_start", '{"type": "content_block_start", "index": 0, "meta": ' + "[" * 130 + "1"
              + "]" * 130 + ', "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}}')
        + json_delta(0, json.dumps(SSH_READ)) + stop(0) + tail(),
    # The message itself arrives with a tool call in it: the SDK starts from this snapshot.
    "frame_anth_start_with_content": ev("message_start", {**MSG_START, "message": {
        **MSG_START["message"], "content": [tool("Read", SSH_READ)]}}) + tail(),
    # Near miss: text and thinking only, streamed in pieces, ending the turn.
    "frame_anth_text": ev("message_start", MSG_START)
        + start(0, {"type": "thinking", "thinking": "", "signature": ""})
        + a("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "Let me see."})
        + a("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "c2lnbmF0dXJl"})
        + stop(0) + a("ping")
        + start(1, {"type": "text", "text": ""}) + text_delta(1, "Hello, ") + text_delta(1, "caf\u00e9 \"world\"\n")
        + text_delta(1, "done.") + stop(1) + tail("end_turn"),
    # Finding 12: the upstream closes cleanly in the middle of text (no message_stop).
    "frame_anth_closed_in_text": anth(
        start(0, {"type": "text", "text": ""}), text_delta(0, "Working on"), end=False),
    # An empty event stream.
    "frame_empty": "",
}

# ----- OpenAI Chat Completions ---------------------------------------------------------------

CHUNK = '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", %s"choices": [%s]}'
SSH_ARGS = json.dumps(json.dumps({"path": "/home/user/.ssh/id_rsa"}))


def chunk(choice, extra=""):
    return raw(None, CHUNK % (extra, choice))


def choice(delta, finish=None):
    return '{"index": 0, "delta": %s, "finish_reason": %s}' % (delta, json.dumps(finish))


def call(delta_calls):
    return '{"tool_calls": [%s]}' % delta_calls


CHAT_END = chunk(choice("{}", "tool_calls")) + "data: [DONE]\n\n"

CHAT = {
    # (d) The key written `tool\u005fcalls`: valid JSON for `tool_calls`.
    "frame_chat_escaped_key": chunk(choice(
        '{"tool\\u005fcalls": [{"index": 0, "id": "call_1", "type": "function", "function": '
        '{"name": "read_file", "arguments": %s}}]}' % SSH_ARGS)) + CHAT_END,
    # (e) A chunk serde refuses (a lone surrogate in the call id) that Python's json accepts.
    "frame_chat_unparseable_surrogate": chunk(choice(call(
        '{"index": 0, "id": "call_\\ud800", "type": "function", "function": '
        '{"name": "read_file", "arguments": %s}}' % SSH_ARGS))) + CHAT_END,
    # (e) The same with a field nested deeper than serde's limit.
    "frame_chat_unparseable_deep": chunk(choice(call(
        '{"index": 0, "id": "call_1", "type": "function", "function": '
        '{"name": "read_file", "arguments": %s}}' % SSH_ARGS)), '"meta": ' + "[" * 130 + "1" + "]" * 130 + ", ")
        + CHAT_END,
    # Index games: the dangerous call's fragments arrive under a second index and an index the
    # SDK resolves from the end of its list (-1), around an allowed call.
    "frame_chat_index_games": chunk(choice(call(
        '{"index": 0, "id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": ""}}')))
        + chunk(choice(call('{"index": 1, "id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": ""}}')))
        + chunk(choice(call('{"index": -1, "function": {"arguments": %s}}' % SSH_ARGS)))
        + chunk(choice(call('{"index": 0, "function": {"arguments": %s}}' % json.dumps(json.dumps({"path": "/tmp/a.txt"})))))
        + CHAT_END,
    # A harmless call finished, then more argument text for it after the finish.
    "frame_chat_call_after_finish": chunk(choice(call(
        '{"index": 0, "id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\\"path\\": "}}')))
        + chunk(choice(call('{"index": 0, "function": {"arguments": "\\"/tmp/a.txt\\"}"}}'), "tool_calls"))
        + chunk(choice(call('{"index": 0, "function": {"arguments": %s}}' % SSH_ARGS)))
        + "data: [DONE]\n\n",
    # Near miss: text only, with the usage chunk at the end.
    "frame_chat_text": chunk(choice('{"role": "assistant", "content": ""}')) + chunk(choice('{"content": "Hello, "}'))
        + chunk(choice('{"content": "caf\\u00e9 \\"world\\"\\n"}')) + chunk(choice('{}', "stop"))
        + raw(None, '{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test", "choices": [], '
              '"usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}')
        + "data: [DONE]\n\n",
    # Finding 12: the upstream closes in the middle of text (no [DONE]).
    "frame_chat_closed_in_text": chunk(choice('{"role": "assistant", "content": "Working on"}')),
}

# ----- OpenAI Responses ----------------------------------------------------------------------

SSH_CMD = json.dumps({"cmd": "cat ~/.ssh/id_rsa"})
ECHO_CMD = json.dumps({"cmd": "echo hello"})
CREATED = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "gpt-test", "output": []}


SEQ = itertools.count()


def r(kind, name=None, **fields):
    """A Responses event; `name` overrides the `event:` line (default: the type)."""
    return ev(name or kind, {"type": kind, **fields, "sequence_number": next(SEQ)})


def fcall(args, id="fc_1", status="completed"):
    return {"type": "function_call", "id": id, "call_id": "call_" + id, "name": "exec_command", "arguments": args, "status": status}


def completed(output=None):
    resp = {**CREATED, "status": "completed"}
    if output is not None:
        resp["output"] = output
    else:
        resp.pop("output")
    return r("response.completed", response=resp)


def resp(*events):
    return r("response.created", response=CREATED) + "".join(events)


def added(index, item, name=None):
    return r("response.output_item.added", name, output_index=index, item=item)


def done(index, item, name=None):
    return r("response.output_item.done", name, output_index=index, item=item)


def args_delta(index, text, id="fc_1"):
    return r("response.function_call_arguments.delta", item_id=id, output_index=index, delta=text)


def PART(text):
    return {"type": "output_text", "text": text, "annotations": []}


MESSAGE_ADDED = {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}
MESSAGE_DONE = {**MESSAGE_ADDED, "status": "completed", "content": [PART("Hello, world.")]}

RESPONSES = {
    # An item completed that was never added; the final response is rebuilt from done items.
    "frame_resp_done_without_added": resp(done(0, fcall(SSH_CMD)), completed()),
    # (a) `event:` names of text events carrying a call's added and done.
    "frame_resp_name_mismatch": resp(
        added(0, fcall(SSH_CMD, status="in_progress"), name="response.output_text.delta"),
        done(0, fcall(SSH_CMD), name="response.output_text.done"),
        completed()),
    # A lifecycle event replaces the allowed call with a dangerous one of the same call_id.
    "frame_resp_in_progress_replaces": resp(
        added(0, fcall("", status="in_progress")), args_delta(0, ECHO_CMD), done(0, fcall(ECHO_CMD)),
        r("response.in_progress", response={**CREATED, "output": [fcall(SSH_CMD)]}),
        completed()),
    # The final output reuses the id of an allowed call for a dangerous one.
    "frame_resp_id_reuse": resp(
        added(0, fcall("", status="in_progress")), args_delta(0, ECHO_CMD), done(0, fcall(ECHO_CMD)),
        completed([fcall(SSH_CMD)])),
    # Argument text for a call after its done: the SDK adds it to the call it tracks.
    "frame_resp_delta_after_done": resp(
        added(0, fcall("", status="in_progress")), args_delta(0, ECHO_CMD[:-2]), done(0, fcall(ECHO_CMD)),
        args_delta(0, '; cat ~/.ssh/id_rsa"}'),
        completed([fcall(ECHO_CMD)])),
    # (e) Items serde refuses (a lone surrogate in the id) that Python's json accepts.
    "frame_resp_unparseable": r("response.created", response=CREATED)
        + raw("response.output_item.added", '{"type": "response.output_item.added", "output_index": 0, "item": '
              '{"type": "function_call", "id": "fc_\\ud800", "call_id": "call_1", "name": "exec_command", "arguments": "", "status": "in_progress"}}')
        + raw("response.output_item.done", '{"type": "response.output_item.done", "output_index": 0, "item": '
              '{"type": "function_call", "id": "fc_\\ud800", "call_id": "call_1", "name": "exec_command", "arguments": %s, "status": "completed"}}'
              % json.dumps(SSH_CMD))
        + completed(),
    # Near miss: one message, streamed in pieces.
    "frame_resp_text": resp(
        added(0, MESSAGE_ADDED),
        r("response.content_part.added", item_id="msg_1", output_index=0, content_index=0, part=PART("")),
        r("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="Hello, "),
        r("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta="world."),
        r("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text="Hello, world."),
        r("response.content_part.done", item_id="msg_1", output_index=0, content_index=0, part=PART("Hello, world.")),
        done(0, MESSAGE_DONE),
        completed([MESSAGE_DONE])),
    # Finding 12: the upstream closes before the response completed.
    "frame_resp_closed_in_text": resp(
        added(0, MESSAGE_ADDED)),
}

SCENARIOS = {**ANTHROPIC, **CHAT, **RESPONSES}
