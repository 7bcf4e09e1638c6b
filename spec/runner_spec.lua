-- SPDX-License-Identifier: MIT
-- Specs of scopelab.runner on small experiment files written for each case. Most
-- need no C module, so they prove the runner's own rules; the few that check what
-- reaches an isolate (defaults, --stress) use it.
local runner = require "scopelab.runner"

local tmpdir
local function write(name, text)
  local path = tmpdir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local function readall(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The runner as a command, as `make run` starts it; returns exit status and output.
local function command(args)
  local p = io.popen("lua5.4 lua/scopelab/runner.lua " .. args .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  return tonumber(out:match("exit=(%d+)%s*$")), out
end

setup(function()
  tmpdir = os.tmpname()
  os.remove(tmpdir)
  assert(os.execute("mkdir -p " .. tmpdir))
end)

teardown(function()
  os.execute("rm -rf " .. tmpdir)
end)

describe("scopelab.runner", function()
  it("counts every claim an experiment checks and passes it when all hold", function()
    local path = write("good.lua", [[
-- Two true claims
claim(1 + 1 == 2, "arithmetic works")
claim.equal("a", "a", "strings compare")
claim.grows({1, 2, 2, 5}, "a leak grows")
claim.flat({4, 4, 4}, "a fix is flat")
claim.less(1, 2, "one is less than two")
]])
    local r = runner.run_file(path)
    assert.are.equal(5, r.claims)
    assert.are.equal(5, r.passed)
    assert.are.equal("pass", r.result)
    assert.is_true(r.ok)
    assert.are.equal("good", r.name)
    assert.are.equal("Two true claims", r.title)
  end)

  it("fails an experiment with a false claim but still checks the claims after it", function()
    local path = write("bad.lua", [[
claim.equal(1, 2, "one is two")
claim(true, "still checked")
]])
    local r = runner.run_file(path)
    assert.are.equal(2, r.claims)
    assert.are.equal(1, r.passed)
    assert.are.equal("FAIL", r.result)
    assert.matches("bad.lua:1: claim failed: one is two\n    expected 1, got 2", r.failures[1], 1, true)
  end)

  it("reports an error outside a claim as an error of that experiment", function()
    local r = runner.run_file(write("err.lua", 'claim(true, "first")\nerror("boom")\n'))
    assert.are.equal("error", r.result)
    assert.matches("err.lua:2: boom", r.error, 1, true)
    assert.are.equal(1, r.claims)
  end)

  it("fails an experiment that checks no claim at all", function()
    local r = runner.run_file(write("none.lua", 'print("nothing asserted")\n'))
    assert.are.equal("error", r.result)
    assert.are.equal("the experiment checked no claim", r.error)
  end)

  it("catches the error a claim expects and returns its message", function()
    local r = runner.run_file(write("raises.lua", [[
local msg = claim.raises(function() error("bad argument #1 to 'escape' (handle from a closed scope)", 0) end,
  "closed scope", "escape after close is refused")
claim.equal("bad argument #1 to 'escape' (handle from a closed scope)", msg, "the message comes back")
claim.raises(function() end, nil, "a function that does not raise fails the claim")
]]))
    assert.are.equal(3, r.claims)
    assert.are.equal(2, r.passed)
    assert.matches("expected an error, none was raised", r.failures[1], 1, true)
  end)

  it("runs each experiment in its own environment", function()
    local a = write("a.lua", 'leaked = "from a"\nclaim(true, "set")\n')
    local b = write("b.lua", 'claim.equal(nil, leaked, "b does not see a\'s global")\n')
    local results, ok = runner.run({ a, b })
    assert.is_true(ok)
    assert.are.equal("pass", results[2].result)
    assert.is_nil(rawget(_G, "leaked"))
  end)

  it("keeps what an experiment prints for the report", function()
    local r = runner.run_file(write("p.lua", 'print("handles", 3)\nclaim(true, "ok")\n'))
    assert.are.equal("handles\t3", r.output[1])
    assert.are.equal("  [ok] ok", r.output[2])
  end)

  it("prints a summary table of experiment, claims, result and time", function()
    local results = runner.run({ write("s1.lua", 'claim(true, "x")\n'), write("s2.lua", 'claim(false, "y")\n') })
    local text = runner.summary(results)
    local lines = {}
    for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^experiment | claims | result | time", lines[1])
    assert.matches("^s1%s+| 1/1%s+| pass%s+| [%d.]+ ms", lines[3])
    assert.matches("^s2%s+| 0/1%s+| FAIL%s+| [%d.]+ ms", lines[4])
    assert.matches("^2 experiments, 1 failed; 2 claims, 1 passed, 1 failed", lines[5])
  end)

  it("writes a chart, a CSV and a log per experiment and an index linking them", function()
    local path = write("rec.lua", [[
-- Recorded
local iso = { n = 0 }
function iso:stats() return { handles = self.n, young_used = 0, old_used = 0,
  minor_collections = 0, major_collections = 0 } end
local rec = recorder(iso, "counting")
for i = 1, 3 do iso.n = i; rec:mark("i", i) end
claim.equal(4, #rec.samples, "start plus three marks")
]])
    local results = runner.run({ path })
    local dir = tmpdir .. "/report"
    local index = runner.write_report(dir, results)
    assert.are.equal(dir .. "/index.html", index)
    local html = readall(index)
    assert.matches('<img src="rec.svg"', html, 1, true)
    assert.matches('<a href="rec.csv">CSV</a>', html, 1, true)
    assert.matches("<svg", readall(dir .. "/rec.svg"), 1, true)
    assert.matches("counting: handles", readall(dir .. "/rec.svg"), 1, true)
    assert.matches("^sample,", readall(dir .. "/rec.csv"))
    assert.matches("[ok] start plus three marks", readall(dir .. "/rec.log"), 1, true)
  end)

  it("adds a run of one file to the report of earlier runs instead of replacing it", function()
    local dir = tmpdir .. "/merged"
    local a = write("m_a.lua", 'claim(true, "a")\n')
    local b = write("m_b.lua", 'claim(true, "b")\n')
    runner.write_report(dir, runner.run({ a, b }), { command = "full run" })
    local notes = write("NOTES.md", "# not an experiment\n")
    local html = readall(runner.write_report(dir, runner.run({ notes }), { command = "run NOTES.md" }))
    for _, name in ipairs { "m_a", "m_b", "NOTES.md" } do
      assert.matches('<a href="#' .. name .. '">' .. name .. "</a>", html, 1, true)
    end
    assert.matches('<tr class="older"><td><a href="#m_a">', html, 1, true)
    assert.matches("#2 [^<]*: <code>run NOTES.md</code>: 1 experiment, 1 failed", html)
    assert.matches("#1 [^<]*: <code>full run</code>: 2 experiments, 0 failed", html)
    assert.matches("[ok] a", readall(dir .. "/m_a.log"), 1, true)
    -- a changed experiment run again: its row is updated, the others stay
    write("m_a.lua", 'claim(false, "a broke")\n')
    html = readall(runner.write_report(dir, runner.run({ a }), { command = "run m_a" }))
    assert.matches('<a href="#m_a">m_a</a></td><td>0/1</td><td class="FAIL">FAIL</td>', html, 1, true)
    assert.matches('<a href="#m_b">m_b</a></td><td>1/1</td><td class="pass">pass</td>', html, 1, true)
    assert.matches("claim failed: a broke", readall(dir .. "/m_a.log"), 1, true)
  end)

  it("drops a deleted experiment from the report, and keeps two files of one name apart", function()
    local dir = tmpdir .. "/pruned"
    local gone = write("m_gone.lua", 'claim(true, "here for now")\n')
    os.execute("mkdir -p " .. tmpdir .. "/other")
    local one = write("m_same.lua", 'claim(true, "first")\n')
    local two = write("other/m_same.lua", 'claim(true, "second")\n')
    runner.write_report(dir, runner.run({ gone, one, two }))
    assert.matches("[ok] first", readall(dir .. "/m_same.log"), 1, true)
    assert.matches("[ok] second", readall(dir .. "/m_same-2.log"), 1, true)
    os.remove(gone)
    local html = readall(runner.write_report(dir, runner.run({ one })))
    assert.is_nil(html:find("m_gone", 1, true))
    assert.is_nil(readall(dir .. "/m_gone.log"))
    assert.matches('href="m_same-2.log"', html, 1, true)
  end)

  it("parses the shared options and refuses unknown ones", function()
    local opts, files = runner.parse({ "--stress=3", "--seed", "42", "--trace-gc", "--quiet", "x.lua" })
    assert.are.same({ "x.lua" }, files)
    assert.are.equal(3, opts.isolate_defaults.gc_interval)
    assert.is_true(opts.isolate_defaults.verify_heap)
    assert.are.equal(42, opts.seed)
    assert.is_true(opts.trace_gc)
    assert.is_true(opts.isolate_defaults.trace_gc)
    assert.is_true(opts.isolate_defaults.stress_compaction)
    assert.is_false(opts.verbose)
    local none, msg = runner.parse({ "--frobnicate", "x.lua" })
    assert.is_nil(none)
    assert.are.equal("unknown option '--frobnicate'", msg)
    assert.are.equal("option '--seed' needs an integer", select(2, runner.parse({ "--seed", "x", "a.lua" })))
    assert.are.equal("no experiment files given", select(2, runner.parse({})))
    assert.are.equal(2.5, runner.parse({ "--timeout", "2.5", "x.lua" }).timeout)
    assert.are.equal("option '--timeout' needs a number of seconds (0 for no limit)",
      select(2, runner.parse({ "--timeout", "-1", "x.lua" })))
  end)

  it("seeds math.random the same way for each experiment with --seed", function()
    local path = write("rand.lua", 'first = math.random(1000000)\nclaim(true, "drew " .. first)\n')
    local r1 = runner.run_file(path, { seed = 7 })
    local r2 = runner.run_file(path, { seed = 7 })
    assert.are.equal(r1.output[1], r2.output[1])
  end)

  it("exits 0 when every claim holds and 1 when one fails, as a command", function()
    local good = write("cmd_good.lua", 'claim(true, "fine")\n')
    local bad = write("cmd_bad.lua", 'claim(false, "not fine")\n')
    local status, out = command("--quiet " .. good)
    assert.are.equal(0, status)
    assert.matches("cmd_good%s+| 1/1%s+| pass", out)
    status, out = command("--quiet --report " .. tmpdir .. "/cmdreport " .. good .. " " .. bad)
    assert.are.equal(1, status)
    assert.matches("claim failed: not fine", out, 1, true)
    assert.matches("report: " .. tmpdir .. "/cmdreport/index.html", out, 1, true)
    status = command("--no-such-option " .. good)
    assert.are.equal(2, status)
  end)
end)

describe("scopelab.runner, one experiment against the others", function()
  local GOOD = 'claim(true, "still runs")\n'

  it("marks an error object whose __tostring raises as an error, and runs the next one", function()
    local bad = write("bad_error.lua", [[
claim(true, "before")
error(setmetatable({}, { __tostring = function() error("tostring raised") end }))
]])
    local results, ok = runner.run({ bad, write("after_bad_error.lua", GOOD) })
    assert.is_false(ok)
    assert.are.equal("error", results[1].result)
    assert.are.equal(1, results[1].passed)
    assert.matches("^%(error object is a table value; its __tostring raised: .*tostring raised%)",
      results[1].error)
    assert.are.equal("pass", results[2].result)
  end)

  it("marks an experiment that calls os.exit, keeps its claims, and runs the next one", function()
    local results = runner.run({ write("exits.lua", 'claim(true, "before")\nprint("bye")\nos.exit(3)\n'),
                                 write("after_exit.lua", GOOD) })
    assert.are.equal("exit", results[1].result)
    assert.are.equal("the experiment called os.exit(3): use 'return' to end it early", results[1].error)
    assert.are.same({ 1, 1 }, { results[1].claims, results[1].passed })
    assert.are.same({ "  [ok] before", "bye" }, results[1].output)
    assert.are.equal("pass", results[2].result)
  end)

  it("stops an experiment at its time limit, says where it was, and runs the next one", function()
    local loop = write("loops.lua", 'claim(true, "before")\nlocal n = 0\nwhile true do n = n + 1 end\n')
    local results = runner.run({ loop, write("after_loop.lua", GOOD) }, { timeout = 0.5 })
    assert.are.equal("timeout", results[1].result)
    assert.are.equal(1, results[1].passed)
    assert.matches("^timed out after 0.5 s %(option %-%-timeout%)\n.*loops%.lua:3:", results[1].error)
    assert.are.equal("pass", results[2].result)
  end)

  it("kills an experiment that ignores its time limit", function()
    local stubborn = write("stubborn.lua", [[
claim(true, "before")
while true do pcall(function() while true do end end) end
]])
    local r = runner.run_file(stubborn, { timeout = 0.5 })
    assert.are.equal("timeout", r.result)
    assert.are.equal("timed out after 0.5 s (option --timeout), and killed 1.5 s later "
      .. "as it kept running", r.error)
    assert.are.equal(1, r.passed)
  end)

  it("does not let scopelab.set_defaults in one experiment change the next", function()
    local sets = write("sets_defaults.lua", [[
local scopelab = require "scopelab"
scopelab.set_defaults { young_size = 8192, gc_interval = 3 }
claim.equal(8192, scopelab.defaults().young_size, "set here")
]])
    local checks = write("sees_defaults.lua", [[
local scopelab = require "scopelab"
claim.equal(nil, next(scopelab.defaults()), "no defaults left by the one before")
]])
    local results, ok = runner.run({ sets, checks })
    assert.is_true(ok, runner.failures(results))
  end)

  it("marks an experiment whose process dies of a signal as a crash", function()
    local r = runner.run_file(write("crashes.lua", [[
claim(true, "before")
local pid = io.open("/proc/self/stat"):read("n")
os.execute("kill -SEGV " .. pid)
while true do end
]]), { timeout = 5 })
    assert.are.equal("crash", r.result)
    -- under 'make test-asan' the preloaded ASan runtime catches the SEGV, reports it and aborts
    local asan = (os.getenv("LD_PRELOAD") or ""):find("asan") ~= nil
    assert.are.equal(asan and "the experiment's process died of signal 6 (SIGABRT)"
      or "the experiment's process died of signal 11 (SIGSEGV)", r.error)
    assert.are.equal(1, r.passed)
  end)

  it("lists every outcome in the summary and the report", function()
    local results = runner.run({
      write("o_pass.lua", GOOD), write("o_fail.lua", 'claim(false, "no")\n'),
      write("o_exit.lua", "os.exit(0)\n"), write("o_loop.lua", "while true do end\n"),
    }, { timeout = 0.5 })
    local text = runner.summary(results)
    assert.matches("o_pass%s+| 1/1%s+| pass", text)
    assert.matches("o_fail%s+| 0/1%s+| FAIL", text)
    assert.matches("o_exit%s+| 0/0%s+| exit", text)
    assert.matches("o_loop%s+| 0/0%s+| timeout", text)
    assert.matches("4 experiments, 3 failed", text, 1, true)
    local html = readall(runner.write_report(tmpdir .. "/outcomes", results))
    assert.matches('<td class="exit">exit</td>', html, 1, true)
    assert.matches('<td class="timeout">timeout</td>', html, 1, true)
  end)

  it("passes --stress and --trace-gc to the isolates of the experiment's process", function()
    local path = write("stressed.lua", [[
local scopelab = require "scopelab"
local iso <close> = scopelab.isolate()
local s <close> = iso:handle_scope()
for i = 1, 20 do iso:integer(i) end
claim(iso:stats().collections > 0, "collections ran without a call to collect")
]])
    local status, out = command("--quiet --stress=2 --trace-gc " .. path)
    assert.are.equal(0, status, out)
    assert.matches("%[scopelab 0x%x+%] #1 ", out)
    status = command("--quiet " .. path)
    assert.are.equal(1, status)
  end)

  it("survives the same four in this Lua state when there is no interpreter to start", function()
    local scopelab = require "scopelab"
    local before = scopelab.defaults()
    local results = runner.run({
      write("h_bad_error.lua", 'error(setmetatable({}, { __tostring = function() error("x") end }))\n'),
      write("h_exit.lua", 'claim(true, "before")\nos.exit(2)\n'),
      write("h_loop.lua", 'while true do end\n'),
      write("h_defaults.lua", 'require("scopelab").set_defaults { young_size = 4096 }\nclaim(true, "set")\n'),
      write("h_after.lua", 'claim.equal(nil, require("scopelab").defaults().young_size, "put back")\n'),
    }, { in_process = true, timeout = 0.5 })
    local got = {}
    for i, r in ipairs(results) do got[i] = r.result end
    assert.are.same({ "error", "exit", "timeout", "pass", "pass" }, got)
    assert.are.equal("the experiment called os.exit(2): use 'return' to end it early", results[2].error)
    assert.are.same(before, scopelab.defaults())
    assert.are.equal("function", type(os.exit))
    assert.is_nil(debug.gethook())
  end)

  it("lets an experiment set its own title", function()
    local r = runner.run_file(write("titled.lua", [[
-- the comment line would be the title
experiment { title = "A title set by the experiment" }
claim(true, "x")
]]))
    assert.are.equal("A title set by the experiment", r.title)
    local bad = runner.run_file(write("badtitle.lua", 'experiment { title = 5 }\n'))
    assert.matches("bad argument #1 to 'experiment' %(field 'title' must be a string, got number%)", bad.error)
  end)

  it("runs make run's command to the end with four experiments that misbehave", function()
    local extra = {
      write("z_bad_error.lua", 'error(setmetatable({}, { __tostring = function() error("x") end }))\n'),
      write("z_exit.lua", 'os.exit(true)\n'),
      write("z_loop.lua", 'while true do end\n'),
      write("z_defaults.lua", 'require("scopelab").set_defaults { gc_interval = 1, young_size = 4096 }\n'
        .. 'claim(true, "defaults changed")\n'),
    }
    local status, out = command("--quiet --timeout 3 --report " .. tmpdir .. "/make-run experiments/*.lua "
      .. table.concat(extra, " "))
    assert.are.equal(1, status)
    local names = io.popen("ls experiments/*.lua"):read("a")
    for name in names:gmatch("([%w_]+)%.lua") do
      assert.matches("\n" .. name .. "%s+| %d+/%d+%s+| pass", out)
    end
    assert.matches("\nz_bad_error%s+| 0/0%s+| error", out)
    assert.matches("\nz_exit%s+| 0/0%s+| exit", out)
    assert.matches("\nz_loop%s+| 0/0%s+| timeout", out)
    assert.matches("\nz_defaults%s+| 1/1%s+| pass", out)
    assert.matches("experiments, 3 failed", out, 1, true)
  end)
end)

describe("bin/scopelab", function()
  local function scopelab(args)
    local p = io.popen("bin/scopelab " .. args .. " 2>&1; echo \"exit=$?\"")
    local out = p:read("a")
    p:close()
    return tonumber(out:match("exit=(%d+)%s*$")), out
  end

  it("prints a progress line per experiment, the summary table and the report path", function()
    local a = write("first.lua", 'claim(true, "one")\n')
    local b = write("second.lua", 'claim(false, "two")\n')
    local dir = tmpdir .. "/binreport"
    local status, out = scopelab("run --report " .. dir .. " " .. a .. " " .. b)
    assert.are.equal(1, status)
    assert.matches("[1/2] first... pass (1/1 claims, ", out, 1, true)
    assert.matches("[2/2] second.. FAIL (0/1 claims, ", out, 1, true)
    assert.matches("claim failed: two", out, 1, true)
    assert.matches("experiment | claims | result | time", out, 1, true)
    assert.matches("report: " .. dir .. "/index.html", out, 1, true)
    local rstatus, rout = scopelab("report --report " .. dir)
    assert.are.equal(0, rstatus)
    assert.are.equal(dir .. "/index.html\n", rout:gsub("exit=%d+%s*$", ""))
  end)

  it("prints the module's version with --version", function()
    local status, out = scopelab("--version")
    assert.are.equal(0, status)
    assert.are.equal("scopelab " .. require("scopelab.core").version .. "\n", out:gsub("exit=%d+%s*$", ""))
  end)

  it("shows each outcome on its progress line", function()
    local status, out = scopelab("run --timeout 0.5 --report " .. tmpdir .. "/binoutcomes "
      .. write("p_exit.lua", "os.exit(1)\n") .. " " .. write("p_loop.lua", "while true do end\n"))
    assert.are.equal(1, status)
    assert.matches("[1/2] p_exit.. exit (0/0 claims, ", out, 1, true)
    assert.matches("[2/2] p_loop.. timeout (0/0 claims, ", out, 1, true)
  end)

  it("says there is no report yet, and refuses unknown commands", function()
    local status, out = scopelab("report --report " .. tmpdir .. "/nothing-here")
    assert.are.equal(1, status)
    assert.matches("scopelab: no report yet: run 'scopelab run' first", out, 1, true)
    status, out = scopelab("frobnicate")
    assert.are.equal(2, status)
    assert.matches("scopelab: unknown command 'frobnicate'", out, 1, true)
  end)
end)
