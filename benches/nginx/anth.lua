-- wrk -s anth.lua: an Anthropic Messages POST (STREAM=1 asks for an event stream); prints
-- one line the driver reads: requests, errors (non-2xx included), latency percentiles in µs.
local stream = os.getenv("STREAM") == "1"
wrk.method = "POST"
wrk.path = "/v1/messages"
wrk.headers["content-type"] = "application/json"
wrk.headers["x-api-key"] = "sk-ant-test"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.body = '{"model":"m","max_tokens":64,"stream":' .. (stream and "true" or "false")
  .. ',"messages":[{"role":"user","content":"list the files"}]}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d errors=%d p50=%d p99=%d\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))
end
