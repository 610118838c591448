-- POST $WRK_PATH (default /v1/login) {"email":$EMAIL,"password":$PASSWORD}; counts statuses
-- (200 = logged in, 401 = wrong password, 503 = hash pool queue full, 429 = rate limited).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")
local email = os.getenv("EMAIL") or error("EMAIL not set")
local password = os.getenv("PASSWORD") or error("PASSWORD not set")
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/v1/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', email, password)

status_counts = {}
function response(status, headers, body)
  status_counts[status] = (status_counts[status] or 0) + 1
end
