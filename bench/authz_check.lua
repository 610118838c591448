-- POST $WRK_PATH (default /v1/authz/check) with the JSON body in $BODY_FILE and
-- "Authorization: $AUTHZ" (a Bearer token or a service client's Basic credentials).
-- One fixed request, no per-request or per-response Lua (like get.lua), so the
-- comparison with /healthz is not skewed by the load generator; wrk's err_status
-- counts non-2xx answers (bench/authz.sh checks each body's answer beforehand).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")
local f = assert(io.open(os.getenv("BODY_FILE") or error("BODY_FILE not set"), "r"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()
wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/v1/authz/check"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("AUTHZ") or error("AUTHZ not set")
wrk.body = body
