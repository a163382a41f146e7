-- wrk script for POST /echo: a body of BENCH_BODY_SIZE bytes (default 1024).
-- Used by bench/run.py; by hand:
--   BENCH_BODY_SIZE=65536 wrk -t1 -c64 -d10s --latency -s bench/post_echo.lua http://127.0.0.1:8080/echo
local size = tonumber(os.getenv("BENCH_BODY_SIZE") or "1024")
wrk.method = "POST"
wrk.body = string.rep("x", size)
wrk.headers["Content-Type"] = "application/octet-stream"
