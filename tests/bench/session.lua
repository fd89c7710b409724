-- tests/bench/session.lua — wrk script of tests/bench/session.sh: every wrk thread sends its own
-- session cookie.
--
-- session.sh runs wrk with as many threads as connections (-tN -cN), so one thread is one
-- connection, and "one session per thread" is "one session per connection": no two requests in
-- flight ever carry the same session, so a session that does not survive is lost by the store,
-- not by a race between two writers of one session.
--
-- BENCH_COOKIES names a file with one "name=value" cookie per line, one line per thread (the
-- n-th thread takes the n-th line). Empty or unset: no Cookie header (the no-session baseline).
-- The request itself stays static (no request() function), so wrk builds it once per thread
-- and the client costs the same for every variant.

local cookies = {}
local file = os.getenv("BENCH_COOKIES")
if file and file ~= "" then
    for line in io.lines(file) do
        if line ~= "" then
            cookies[#cookies + 1] = line
        end
    end
end

local threads = 0

function setup(thread)
    threads = threads + 1
    if #cookies > 0 then
        if threads > #cookies then
            error("session.lua: more wrk threads than sessions in " .. file)
        end
        thread:set("cookie", cookies[threads])
    end
end

function init(args)
    -- "cookie" is the global that setup() set in this thread's own Lua state
    if cookie then
        wrk.headers["Cookie"] = cookie
    end
end
