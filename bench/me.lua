-- GET /v1/me with bearer tokens. TOKENS_FILE: one access token per line; with
-- one line every request repeats it (cache hits), with many each request
-- takes the next (cold verification when the file has more tokens than the
-- cache holds, or when the server runs with tokens.cache_entries=0).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local i = 0
wrk.method = "GET"
wrk.path = os.getenv("WRK_PATH") or "/v1/me"
function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
