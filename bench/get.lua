-- GET $WRK_PATH (default /healthz), no body, no per-response Lua work.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")
wrk.method = "GET"
wrk.path = os.getenv("WRK_PATH") or "/healthz"
