-- wrk script for POST /upload: a prebuilt multipart/form-data body read from a file.
-- Used by bench/static_run.py, which writes the body and sets:
--   BENCH_UPLOAD_BODY      path of the body file (sent as is, every request)
--   BENCH_UPLOAD_BOUNDARY  its boundary (Content-Type: multipart/form-data; boundary=...)
--   BENCH_UPLOAD_EXPECT    the exact answer expected (the part's byte count)
-- Every answer is compared with BENCH_UPLOAD_EXPECT; done() prints
--   upload answers: ok <n>, wrong <n>
-- and the first wrong answer, if any.
local path = assert(os.getenv("BENCH_UPLOAD_BODY"), "BENCH_UPLOAD_BODY not set")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. os.getenv("BENCH_UPLOAD_BOUNDARY")

local expect = os.getenv("BENCH_UPLOAD_EXPECT")
local threads = {}

-- per-thread counters (each wrk thread runs its own copy of this script)
ok = 0
wrong = 0
first_wrong = ""

function setup(thread)
   table.insert(threads, thread)
end

function response(status, headers, answer)
   if status == 200 and answer == expect then
      ok = ok + 1
   else
      wrong = wrong + 1
      if first_wrong == "" then
         first_wrong = tostring(status) .. " " .. string.sub(answer or "", 1, 200)
      end
   end
end

function done(summary, latency, requests)
   local n_ok, n_wrong, first = 0, 0, ""
   for _, t in ipairs(threads) do
      n_ok = n_ok + t:get("ok")
      n_wrong = n_wrong + t:get("wrong")
      if first == "" then
         first = t:get("first_wrong")
      end
   end
   io.write(string.format("upload answers: ok %d, wrong %d\n", n_ok, n_wrong))
   if first ~= "" then
      io.write("first wrong answer: " .. first .. "\n")
   end
end
