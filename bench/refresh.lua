-- POST /v1/token/refresh (Token-Transport: body) rotating a pool of refresh
-- tokens (REFRESH_FILE, one per line, more than the connection count): each
-- request takes a token from the queue, each response puts its child back.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")
local queue, head, tail = {}, 1, 0
for line in io.lines(os.getenv("REFRESH_FILE")) do
  if #line > 0 then tail = tail + 1; queue[tail] = line end
end
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/v1/token/refresh"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Token-Transport"] = "body"
function request()
  if head > tail then return wrk.format("GET", "/healthz") end  -- pool exhausted (should not happen)
  local t = queue[head]; queue[head] = nil; head = head + 1
  return wrk.format(nil, nil, nil, '{"refresh_token":"' .. t .. '"}')
end
status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
  if status == 200 then
    local t = body:match('"refresh_token":"([^"]+)"')
    if t then tail = tail + 1; queue[tail] = t end
  end
end
