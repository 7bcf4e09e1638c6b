-- SPDX-License-Identifier: MIT
--- scopelab.runner: runs experiment scripts, counts their claims, reports.
--
--   lua5.4 lua/scopelab/runner.lua [--report DIR] [--quiet] [--stress[=N]]
--                                  [--seed N] [--timeout S] [--trace-gc] files...
--
-- Each experiment runs in a process of its own: the runner starts the interpreter
-- that runs it (arg[-1], never a plain 'lua' that may be 5.1) on this file with
-- '--child', and reads back what the child streams into a temporary file, one
-- scopelab.literal line per output line, claim and title, then a last line with
-- the verdict and the recorders' samples. Nothing one experiment does reaches the
-- next: not its globals, not scopelab.set_defaults, not os.exit, a crash in C or a
-- loop. Every outcome lands in the summary and the report:
--
--   pass      every claim held          FAIL     a claim failed
--   error     an error outside a claim, or no claim checked
--   timeout   ran past --timeout S (default 60): a count hook stops a Lua loop and
--             says where it was; timeout(1) kills what the hook cannot stop
--   exit      the experiment called os.exit (or its process ended early)
--   crash     its process died of a signal (a segfault in C)
--   interrupted   Ctrl-C; the run stops there
--
-- A host program that embeds the runner and has no interpreter to start runs the
-- experiments in its own Lua state (M.run_here), with what protection a shared
-- state allows (see there).
--
-- An experiment states its claims through globals the runner gives it:
--
--   claim(cond, "what it proves")              any truth
--   claim.equal(expected, actual, "...")       claim.less(a, b, "...")
--   claim.alive(x, "...")  claim.collected(x, "...")  claim.moved(x, before, "...")
--   claim.handles(iso, n, "...")               claim.raises(fn, "pattern", "...")
--   claim.grows(list, "...")  claim.flat(list, "...")   (lists of numbers)
--   recorder(iso, "name")                      a scopelab.recorder drawn in the report
--   experiment{ title = "..." }                its title in the report (else the
--                                              first comment line of the file)
--
-- A failed claim does not stop the experiment (later claims still say what
-- they see); it fails the run. An error outside a claim stops that experiment
-- and fails the run; so does an experiment that checks no claim at all.
-- With --report DIR the runner writes, per experiment, NAME.svg (the charts of
-- its recorders side by side, or of the isolates it created when it made no
-- recorder), NAME.csv and NAME.log, and DIR/index.html linking them all.

-- Run as a script (lua5.4 lua/scopelab/runner.lua ...) rather than required:
-- find the sibling modules from the script's own folder.
local AS_SCRIPT = (...) ~= "scopelab.runner" and arg and type(arg[0]) == "string"
  and arg[0]:match("runner%.lua$") ~= nil
if AS_SCRIPT then
  local root = arg[0]:gsub("[^/]*$", "") .. "../"
  package.path = root .. "?.lua;" .. root .. "?/init.lua;" .. package.path
  package.cpath = root .. "../build/?.so;" .. package.cpath
end

local recorder = require "scopelab.recorder"
local literal = require "scopelab.literal"
local inspect = require("scopelab.assert").inspect

local M = {}

-- ------------------------------------------------------------------ claims

-- tostring that cannot raise: an error object's __tostring may itself raise or
-- return a non-string, and the runner must still say something.
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  local why = type(s) == "string" and s or ("a " .. type(s) .. " value")
  return ("(a %s value; its __tostring raised: %s)"):format(type(v), why)
end

-- Where in the experiment a claim was made: the first frame outside this file.
local function site()
  local here = debug.getinfo(1, "S").source
  for level = 2, 20 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.source ~= here and info.currentline and info.currentline > 0 then
      return (info.short_src or "?") .. ":" .. info.currentline
    end
  end
  return "?"
end

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return inspect.describe(v) or tostring(v)
end

local function list_text(t, max)
  local out = {}
  for i = 1, math.min(#t, max or 8) do out[i] = tostring(t[i]) end
  if #t > (max or 8) then out[#out + 1] = "... (" .. #t .. " values)" end
  return "{" .. table.concat(out, ", ") .. "}"
end

-- The claim API of one experiment; 'ex' collects the results.
local function claims_for(ex)
  local function record(ok, desc, detail)
    ok = not not ok
    desc = desc == nil and "(no description)" or safe_tostring(desc)
    ex.claims = ex.claims + 1
    local failure
    if ok then ex.passed = ex.passed + 1
    else
      failure = string.format("%s: claim failed: %s%s", site(), desc, detail and ("\n    " .. detail) or "")
      ex.failures[#ex.failures + 1] = failure
    end
    if ex.on_record then ex.on_record(ok, failure) end
    ex.emit(string.format("  [%s] %s", ok and "ok" or "FAIL", desc))
    if ex.on_claim then ex.on_claim() end
    return ok
  end

  local C = {}
  function C.equal(expected, actual, desc)
    return record(expected == actual, desc,
      string.format("expected %s, got %s", show(expected), show(actual)))
  end
  function C.less(a, b, desc)
    local ok = type(a) == "number" and type(b) == "number" and a < b
    return record(ok, desc, string.format("expected %s < %s", show(a), show(b)))
  end
  function C.alive(x, desc)
    local ok, r = pcall(inspect.is_alive, x)
    return record(ok and r, desc, "expected alive: " .. (ok and show(x) or tostring(r)))
  end
  function C.collected(x, desc)
    local ok, r = pcall(inspect.is_collected, x)
    return record(ok and r, desc, "expected collected: " .. (ok and show(x) or tostring(r)))
  end
  function C.moved(x, before, desc)
    if type(before) == "string" and desc == nil then before, desc = nil, before end
    local ok, r = pcall(inspect.has_moved, x, before)
    return record(ok and r, desc, "expected moved: " .. (ok and show(x) or tostring(r)))
  end
  function C.handles(iso, n, desc)
    local ok, count = pcall(function() return iso:number_of_handles() end)
    return record(ok and count == n, desc,
      string.format("expected %s handles, got %s", tostring(n), ok and tostring(count) or count))
  end
  -- Returns the error message (or nil) so the experiment can print it.
  function C.raises(fn, pattern, desc)
    if type(fn) ~= "function" then
      error("bad argument #1 to 'raises' (function expected, got " .. type(fn) .. ")", 2)
    end
    local ok, err = pcall(fn)
    local msg = (not ok) and tostring(err) or nil
    local good = (not ok) and (pattern == nil or msg:find(pattern) ~= nil)
    record(good, desc, ok and "expected an error, none was raised"
      or string.format("expected an error matching %q, got %q", tostring(pattern), msg))
    return msg
  end
  -- Non-decreasing and last > first: the signature of a leak.
  function C.grows(t, desc)
    local ok = type(t) == "table" and #t >= 2 and t[#t] > t[1]
    for i = 2, (ok and #t or 0) do if t[i] < t[i - 1] then ok = false end end
    return record(ok, desc, "expected a growing series, got " .. (type(t) == "table" and list_text(t) or show(t)))
  end
  -- Every value within 'tolerance' (default 0) of the first: the fixed loop.
  function C.flat(t, desc, tolerance)
    if type(desc) == "number" then desc, tolerance = tolerance, desc end
    tolerance = tolerance or 0
    local ok = type(t) == "table" and #t >= 1
    for i = 2, (ok and #t or 0) do if math.abs(t[i] - t[1]) > tolerance then ok = false end end
    return record(ok, desc, "expected a flat series, got " .. (type(t) == "table" and list_text(t) or show(t)))
  end
  return setmetatable(C, { __call = function(_, cond, desc) return record(cond, desc, nil) end })
end

-- ------------------------------------------------------------------ running

local function basename(path) return (path:match("([^/]+)$") or path):gsub("%.lua$", "") end

-- The first comment line of a script is its title in the report (a license tag or a
-- luacheck directive is not).
local function title_of(path)
  local f = io.open(path, "r")
  if not f then return nil end
  for line in f:lines() do
    local t = line:match("^%-%-+%s*(.-)%s*$")
    if t and t ~= "" and not t:match("^luacheck") and not t:match("^SPDX%-License%-Identifier:") then
      f:close(); return t
    end
    if not line:match("^%s*$") and not line:match("^#!") and not line:match("^%-%-") then break end
  end
  f:close()
  return nil
end

-- What an error object says, as lua.c would print it.
local function error_text(e)
  if type(e) == "string" then return e end
  if type(e) == "number" then return tostring(e) end
  local mt = getmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") ~= nil then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
    return ("(error object is a %s value; its __tostring raised: %s)"):format(type(e),
      type(s) == "string" and s or safe_tostring(s))
  end
  return ("(error object is a %s value)"):format(type(e))
end

-- Raised (as an error object) by the time limit and, in this Lua state, by os.exit.
local TIMEOUT, EXIT = {}, {}

-- The module 'scopelab' as an experiment sees it: isolate options from the
-- command line (--stress, --trace-gc) merged under the experiment's own, and
-- every isolate remembered so the report can chart it.
local function scopelab_for(ex, opts)
  local ok, real = pcall(require, "scopelab")
  if not ok then return nil, real end
  local wrapped = setmetatable({}, { __index = real })
  function wrapped.isolate(o, ...)
    local merged = {}
    for k, v in pairs(opts.isolate_defaults or {}) do merged[k] = v end
    if type(o) == "table" then for k, v in pairs(o) do merged[k] = v end
    elseif o ~= nil then merged = o end     -- let the binding report the bad argument
    local iso = real.isolate(merged, ...)
    ex.isolates[#ex.isolates + 1] = iso
    local okr, rec = pcall(recorder.new, iso, { name = "isolate " .. #ex.isolates, hook = false })
    if okr then ex.auto[#ex.auto + 1] = rec end
    return iso
  end
  return wrapped
end

-- A recorder as plain data ({name, samples, events}): what the report draws, and
-- what a child process sends back. A mark's value that is not a number or a
-- string is written as its text.
local function recorder_data(r)
  local samples = {}
  for i, smp in ipairs(r.samples or {}) do
    local c = {}
    for k, v in pairs(smp) do
      if type(v) == "number" or type(v) == "string" or type(v) == "boolean" then c[k] = v
      else c[k] = safe_tostring(v) end
    end
    samples[i] = c
  end
  local events = {}
  for i, e in ipairs(r.events or {}) do events[i] = { sample = e.sample, kind = e.kind, count = e.count } end
  return { name = safe_tostring(r.name), samples = samples, events = events }
end

local function new_result(path)
  return {
    path = path, name = basename(path), title = title_of(path),
    claims = 0, passed = 0, failures = {}, output = {},
    recorders = {}, auto = {}, isolates = {},
  }
end

-- The verdict of a run that reached its end (or os.exit, or the time limit).
local function verdict(ex)
  if ex.exit_code ~= nil then
    ex.result = "exit"
    ex.error = ("the experiment called os.exit(%s): use 'return' to end it early"):format(
      tostring(ex.exit_code))
  elseif ex.timed_out then ex.result = "timeout"
  elseif ex.error then ex.result = "error"
  elseif ex.claims == 0 then
    ex.result = "error"; ex.error = "the experiment checked no claim"
  elseif #ex.failures > 0 then ex.result = "FAIL"
  else ex.result = "pass" end
  ex.ok = ex.result == "pass"
  return ex
end

--- Runs one experiment file in this Lua state; returns its result table. What
-- M.run_file does in the experiment's own process, and what it falls back to when
-- there is no Lua interpreter to start (a host program that embeds the runner).
-- Here os.exit raises instead of ending the state, the time limit raises from a
-- count hook, and scopelab's defaults are put back afterwards; an experiment that
-- catches those errors, or blocks in C, is not stopped: only a process can be.
-- opts: verbose, isolate_defaults, seed, timeout (seconds, 0 none), on_output(line),
-- and stream(record), which receives every result as it happens.
function M.run_here(path, opts)
  opts = opts or {}
  local ex = new_result(path)
  local stream = opts.stream or function() end
  function ex.emit(line)
    ex.output[#ex.output + 1] = line
    if opts.verbose then io.write(line, "\n") end
    if opts.on_output then opts.on_output(line) end
    stream({ out = line })
  end
  ex.on_record = function(ok, failure) stream({ claim = ok, failure = failure }) end
  local env = setmetatable({}, { __index = _G })
  env._G = env
  env.arg = { [0] = path }
  env.claim = claims_for(ex)
  env.print = function(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    ex.emit(table.concat(parts, "\t", 1, parts.n))
  end
  env.recorder = function(iso, name)
    local rec = recorder.new(iso, { name = name or ("recording " .. (#ex.recorders + 1)), hook = false })
    ex.recorders[#ex.recorders + 1] = rec
    return rec
  end
  env.experiment = function(t)
    if type(t) ~= "table" then
      error(("bad argument #1 to 'experiment' (table expected, got %s)"):format(type(t)), 2)
    end
    for k, v in pairs(t) do
      if k ~= "title" then
        error(("bad argument #1 to 'experiment' (unknown field '%s')"):format(safe_tostring(k)), 2)
      elseif type(v) ~= "string" then
        error(("bad argument #1 to 'experiment' (field 'title' must be a string, got %s)"):format(type(v)), 2)
      end
    end
    if t.title then ex.title = t.title; stream({ title = t.title }) end
  end
  local scopelab_mod
  env.require = function(name)
    if name == "scopelab" then
      if not scopelab_mod then
        local m, err = scopelab_for(ex, opts)
        if not m then error(err, 2) end
        scopelab_mod = m
      end
      return scopelab_mod
    end
    return require(name)
  end

  -- scopelab's defaults, put back afterwards (a process of its own needs none of
  -- this); when the module is not loaded yet there are none
  local loaded = package.loaded.scopelab
  local saved_defaults = type(loaded) == "table" and type(loaded.defaults) == "function"
    and loaded.defaults() or {}

  -- Collections are noticed by one count hook for every recorder of this
  -- experiment (a coroutine has one hook), and every claim is a sample point.
  -- The same hook enforces the time limit: once past it, every call raises, so an
  -- experiment that catches one error meets the next.
  local limit = opts.timeout or 0
  local t0, wall0 = os.clock(), os.time()
  local function poll_all()
    for _, r in ipairs(ex.recorders) do if not r.stopped then pcall(r.poll, r) end end
    for _, r in ipairs(ex.auto) do if not r.stopped then pcall(r.poll, r) end end
  end
  ex.on_claim = function()
    for _, r in ipairs(ex.auto) do
      if not r.stopped and not pcall(r.sample, r, "claim") then r.stopped = true end
    end
  end
  local hooked = debug.gethook() == nil
  if hooked then
    -- CPU time is exact but lags the wall clock on a busy machine; os.time() counts
    -- whole seconds, so 'limit + 1' of them have surely seen 'limit' go by
    debug.sethook(function()
      if limit > 0 and (os.clock() - t0 > limit or os.time() - wall0 >= limit + 1) then
        ex.timed_out = true
        error(TIMEOUT, 0)
      end
      poll_all()
    end, "", 1000)
  end

  local real_exit = os.exit
  local function finish()
    if hooked then debug.sethook() end
    rawset(os, "exit", real_exit)
    ex.time_ms = (os.clock() - t0) * 1000
    for _, r in ipairs(ex.recorders) do pcall(r.stop, r) end
    for _, r in ipairs(ex.auto) do
      if not r.stopped then pcall(r.sample, r, "end") end
      r.stopped = true
    end
    verdict(ex)
    local now = package.loaded.scopelab
    if type(now) == "table" and type(now.set_defaults) == "function" then
      pcall(now.set_defaults, saved_defaults)
    end
    local recs, auto = {}, {}
    for i, r in ipairs(ex.recorders) do recs[i] = recorder_data(r) end
    for i, r in ipairs(ex.auto) do auto[i] = recorder_data(r) end
    ex.recorders, ex.auto = recs, auto
    stream({ done = true, result = ex.result, error = ex.error, time_ms = ex.time_ms,
             recorders = recs, auto = auto })
  end
  -- os.exit: ends this process when it is the experiment's own (opts.exit_for_real),
  -- after the results are out; in a shared state it unwinds the experiment instead.
  rawset(os, "exit", function(code, close)
    ex.exit_code = code == nil and true or code
    if opts.exit_for_real then
      finish()
      return real_exit(code, close)
    end
    error(EXIT, 0)
  end)

  if opts.seed then math.randomseed(opts.seed) end
  local chunk, lerr = loadfile(path, "t", env)
  if not chunk then
    ex.error = lerr
  else
    local ok, err = xpcall(chunk, function(e)
      if e == EXIT then return e end
      if e == TIMEOUT then
        -- levels 2 and 3 are 'error' and the hook: start where the experiment was
        return debug.traceback(("timed out after %s s (option --timeout)"):format(limit), 4)
      end
      return debug.traceback(error_text(e), 2)
    end)
    -- the traceback stops at the experiment: the runner's frames are noise
    if not ok and err ~= EXIT then
      ex.error = (error_text(err):gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
      if ex.timed_out and not ex.error:match("^timed out") then
        ex.error = ("timed out after %s s (option --timeout)\n%s"):format(limit, ex.error)
      end
    end
  end
  finish()
  -- Dispose what the experiment left open now, not in a later experiment's time.
  ex.isolates = nil
  collectgarbage()
  return ex
end

-- ------------------------------------------------------------------ a process per experiment

-- This file, when it was loaded from one: a child process runs it as a script.
local SELF = (function()
  local src = debug.getinfo(1, "S").source
  if src:sub(1, 1) ~= "@" then return nil end
  local f = io.open(src:sub(2), "r")
  if not f then return nil end
  f:close()
  return src:sub(2)
end)()

-- The interpreter running us (the lowest index of 'arg', as lua.c fills it): the
-- child runs under the same one (plain 'lua' may be another version).
local function interpreter()
  if type(arg) ~= "table" then return nil end
  local i = -1
  while arg[i - 1] ~= nil do i = i - 1 end
  return type(arg[i]) == "string" and arg[i] or nil
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local has_timeout_cmd
local function timeout_cmd()
  if has_timeout_cmd == nil then
    has_timeout_cmd = os.execute("command -v timeout >/dev/null 2>&1") == true
  end
  return has_timeout_cmd
end

local SIGNALS = { [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP",
  [6] = "SIGABRT", [7] = "SIGBUS", [8] = "SIGFPE", [9] = "SIGKILL", [11] = "SIGSEGV",
  [13] = "SIGPIPE", [14] = "SIGALRM", [15] = "SIGTERM" }

-- Seconds (at most, and never more than the limit) the process gets past the limit
-- and the second the child's own check may be late, before timeout(1) ends it: the child's
-- own hook stops a Lua loop at the limit and reports where it was; the kill is for
-- what the hook cannot stop (a pcall around the loop, a call blocked in C).
local GRACE = 2

-- Reads what a child wrote into 'ex'. A line cut short by a kill is skipped.
local function read_stream(ex, file, opts)
  local f = io.open(file, "r")
  if not f then return end
  for line in f:lines() do
    local ok, r = pcall(literal.decode, line)
    if ok and type(r) == "table" then
      if r.out then
        ex.output[#ex.output + 1] = r.out
        if opts.on_output then opts.on_output(r.out) end
      elseif r.claim ~= nil then
        ex.claims = ex.claims + 1
        if r.claim then ex.passed = ex.passed + 1 else ex.failures[#ex.failures + 1] = r.failure end
      elseif r.title then ex.title = r.title
      elseif r.done then ex.done = r end
    end
  end
  f:close()
end

-- The child's side: runs one experiment, writing each result to 'file' as it happens.
local function child(file, opts_text, path)
  local f = assert(io.open(file, "w"))
  f:setvbuf("line")                   -- a kill loses at most the line being written
  local opts = literal.decode(opts_text)
  opts.exit_for_real = true
  -- loaded before the clock starts, as it was when every experiment shared one state
  pcall(require, "scopelab")
  opts.stream = function(r)
    local ok, line = pcall(literal.encode, r)
    if ok then f:write(line, "\n") end
  end
  M.run_here(path, opts)
  f:close()
  io.stdout:flush()
  -- close the state: a crash in a finalizer is the experiment's too, and shows
  return 0
end

--- Runs one experiment file in a process of its own (the interpreter running the
-- runner, on this very file), so that nothing it does (os.exit, a crash in C, a
-- loop, scopelab.set_defaults, globals) reaches the next one; returns its result.
-- Falls back to M.run_here when there is no interpreter to start (opts.in_process
-- forces that). opts: verbose, isolate_defaults, seed, timeout (seconds, default
-- 60, 0 for none), on_output(line), lua (the interpreter's command).
-- result.result is "pass", "FAIL", "error", "timeout", "exit" (os.exit or an
-- early end of the process), "crash" (a signal) or "interrupted" (Ctrl-C).
function M.run_file(path, opts)
  opts = opts or {}
  local limit = opts.timeout or M.DEFAULT_TIMEOUT
  local lua = opts.lua or interpreter()
  if opts.in_process or not lua or not SELF then
    local o = setmetatable({ timeout = limit }, { __index = opts })
    return M.run_here(path, o)
  end
  local okenc, opts_text = pcall(literal.encode, {
    verbose = opts.verbose or nil, seed = opts.seed, timeout = limit,
    isolate_defaults = opts.isolate_defaults or {},
  })
  if not okenc then
    error("bad argument #2 to 'run_file' (options must be plain data for the experiment's process: "
      .. opts_text .. ")", 2)
  end
  local file = os.tmpname()
  -- exec: the shell steps aside, so a signal that kills the child is reported as
  -- one (and the shell prints no "Segmentation fault" of its own)
  local cmd = {
    "exec", "env", "LUA_PATH_5_4=" .. shell_quote(package.path), "LUA_CPATH_5_4=" .. shell_quote(package.cpath),
  }
  local hard = limit > 0 and timeout_cmd()
  if hard then
    -- the child's own check may see the limit up to a second late (whole seconds)
    cmd[#cmd + 1] = ("timeout --foreground -k 1 %s"):format(limit + 1 + math.min(GRACE, limit))
  end
  for _, a in ipairs { lua, SELF, "--child", file, opts_text, path } do cmd[#cmd + 1] = shell_quote(a) end
  io.stdout:flush()
  local started = os.time()
  local _, how, code = os.execute(table.concat(cmd, " "))
  -- timeout(1) gives 124 (or a KILL) after the limit; a KILL before it came from
  -- elsewhere (the kernel's out-of-memory killer): a crash, not a timeout
  local late = os.time() - started >= limit
  local ex = new_result(path)
  read_stream(ex, file, opts)
  os.remove(file)
  -- a shell reports a child killed by signal n as status 128 + n
  local signal = how == "signal" and code or (how == "exit" and code > 128 and code - 128) or nil
  local done = ex.done
  ex.done = nil
  if done then
    ex.result, ex.error, ex.time_ms = done.result, done.error, done.time_ms
    ex.recorders, ex.auto = done.recorders or {}, done.auto or {}
    if done.result ~= "exit" and (signal or code ~= 0) then
      ex.result = signal == 2 and "interrupted" or "crash"
      ex.error = ("the experiment ended (%s), then its process %s while closing its Lua state"):format(
        done.result, signal and ("died of signal %d (%s)"):format(signal, SIGNALS[signal] or "?")
        or ("exited with status " .. tostring(code)))
    end
  elseif hard and late and (code == 124 or signal == 9) then
    ex.result = "timeout"
    ex.error = ("timed out after %s s (option --timeout), and killed %s s later "
      .. "as it kept running"):format(limit, 1 + math.min(GRACE, limit))
  elseif signal == 2 then
    ex.result, ex.error = "interrupted", "interrupted (SIGINT)"
  elseif signal then
    ex.result = "crash"
    ex.error = ("the experiment's process died of signal %d (%s)"):format(signal, SIGNALS[signal] or "?")
  elseif code == 127 and ex.claims == 0 and #ex.output == 0 then
    ex.result = "error"
    ex.error = ("cannot start the experiment's process: %s (exit status 127)"):format(lua)
  else
    ex.result = "exit"
    ex.error = ("the experiment's process ended early with status %s"):format(tostring(code))
  end
  ex.ok = ex.result == "pass"
  return ex
end

--- Runs every file in order; returns the results and whether all passed.
-- opts also takes on_start(path, i, n) and on_finish(result, i, n). Ctrl-C
-- (an experiment ending "interrupted") stops the run there.
function M.run(files, opts)
  opts = opts or {}
  local results, all_ok = {}, true
  for i, path in ipairs(files) do
    if opts.on_start then opts.on_start(path, i, #files) end
    local r = M.run_file(path, opts)
    results[i] = r
    all_ok = all_ok and r.ok
    if opts.on_finish then opts.on_finish(r, i, #files) end
    if r.result == "interrupted" then break end
  end
  return results, all_ok
end

M.DEFAULT_TIMEOUT = 60
M.child = child

-- ------------------------------------------------------------------ summary

local function pad(s, w) return s .. string.rep(" ", w - #s) end

--- An experiment's time as the table shows it: CPU milliseconds, or "-" when its
-- process was killed before it could say.
function M.time_text(r)
  return r.time_ms and string.format("%.1f ms", r.time_ms) or "-"
end

--- The summary table: experiment | claims | result | time.
function M.summary(results)
  local rows = { { "experiment", "claims", "result", "time" } }
  local claims, passed, failed_ex, ms = 0, 0, 0, 0
  for _, r in ipairs(results) do
    rows[#rows + 1] = { r.name, string.format("%d/%d", r.passed, r.claims), r.result,
      M.time_text(r) }
    claims, passed, ms = claims + r.claims, passed + r.passed, ms + (r.time_ms or 0)
    if not r.ok then failed_ex = failed_ex + 1 end
  end
  local w = { 0, 0, 0, 0 }
  for _, row in ipairs(rows) do for i, c in ipairs(row) do w[i] = math.max(w[i], #c) end end
  local lines = {}
  for i, row in ipairs(rows) do
    local cells = {}
    for j, c in ipairs(row) do cells[j] = pad(c, w[j]) end
    lines[#lines + 1] = (table.concat(cells, " | "):gsub("%s+$", ""))
    if i == 1 then
      local dashes = {}
      for j = 1, #w do dashes[j] = string.rep("-", w[j]) end
      lines[#lines + 1] = table.concat(dashes, "-|-")
    end
  end
  lines[#lines + 1] = string.format("%d experiments, %d failed; %d claims, %d passed, %d failed; %.1f ms",
    #results, failed_ex, claims, passed, claims - passed, ms)
  return table.concat(lines, "\n")
end

--- Failures and errors, one block per experiment that did not pass.
function M.failures(results)
  local out = {}
  for _, r in ipairs(results) do
    if not r.ok then
      out[#out + 1] = r.name .. ":"
      for _, f in ipairs(r.failures) do out[#out + 1] = "  " .. f end
      if r.error then out[#out + 1] = "  error: " .. r.error:gsub("\n", "\n  ") end
    end
  end
  return table.concat(out, "\n")
end

-- ------------------------------------------------------------------ report

local function html(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local function mkdir(dir)
  -- Pure Lua cannot create a folder; the shell's mkdir -p is everywhere we run.
  local ok = os.execute("mkdir -p " .. shell_quote(dir))
  if not ok then error("cannot create report folder '" .. dir .. "'", 3) end
end

-- The current folder, asked once ($PWD is stale under 'make -C').
local cwd
local function current_dir()
  if not cwd then
    local p = io.popen("pwd")
    cwd = p and p:read("l") or "."
    if p then p:close() end
  end
  return cwd
end

--- The absolute form of 'path', with "." and ".." steps removed (symbolic links
-- are kept: pure Lua cannot read them). The report keys experiments by it, so
-- experiments/x.lua and bin/../experiments/x.lua are one experiment.
function M.absolute(path)
  if path:sub(1, 1) ~= "/" then path = current_dir() .. "/" .. path end
  local parts = {}
  for step in path:gmatch("[^/]+") do
    if step == ".." then parts[#parts] = nil
    elseif step ~= "." then parts[#parts + 1] = step end
  end
  return "/" .. table.concat(parts, "/")
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- The report folder's memory: every experiment it has seen (latest result each)
-- and the runs so far, as scopelab.literal lines.
local STATE_FILE = "report.data"
local STATE_HEADER = "-- scopelab report 1"
local MAX_RUNS = 20

local function read_state(dir)
  local state = { entries = {}, runs = {} }
  local f = io.open(dir .. "/" .. STATE_FILE, "r")
  if not f then return state end
  if f:read("l") ~= STATE_HEADER then f:close(); return state end   -- another version: start over
  for line in f:lines() do
    local ok, v = pcall(literal.decode, line)
    if ok and type(v) == "table" then
      if type(v.entry) == "table" and type(v.entry.path) == "string" and type(v.entry.slug) == "string" then
        state.entries[#state.entries + 1] = v.entry
      elseif type(v.run) == "table" and math.type(v.run.number) == "integer" then
        state.runs[#state.runs + 1] = v.run
      end
    end
  end
  f:close()
  return state
end

local function write_state(dir, state)
  local lines = { STATE_HEADER }
  for _, r in ipairs(state.runs) do lines[#lines + 1] = literal.encode({ run = r }) end
  for _, e in ipairs(state.entries) do lines[#lines + 1] = literal.encode({ entry = e }) end
  recorder.write(dir .. "/" .. STATE_FILE, table.concat(lines, "\n") .. "\n")
end

-- An entry of the report: what the index needs of a result, as plain data.
local function entry_of(r, slug, run, files)
  local e = {
    path = M.absolute(r.path), slug = slug, name = r.name, title = r.title, result = r.result,
    claims = r.claims, passed = r.passed, time_ms = r.time_ms, output = r.output,
    failures = r.failures, error = r.error, run = run.number, date = run.date,
    svg = files.svg, csv = files.csv, log = files.log,
  }
  return e
end

local function entry_failures(e)
  return M.failures({ { ok = e.result == "pass", name = e.name, failures = e.failures or {},
    error = e.error } })
end

-- The file name base of a result: its name, or name-2, name-3... when another
-- file of the report (from another folder) already has that name.
local function slug_for(state, path, name)
  local taken = {}
  for _, e in ipairs(state.entries) do
    if e.path == path then return e.slug end
    taken[e.slug] = true
  end
  local slug, k = name, 1
  while taken[slug] do k = k + 1; slug = name .. "-" .. k end
  return slug
end

--- Writes the results into the report folder 'dir' and returns the path of its
-- index.html. The folder keeps the latest result of every experiment it has seen
-- (in DIR/report.data): a run updates the entries of the files it ran and leaves
-- the others as they were, each row saying which run it comes from, so running
-- one file (or a file that is not an experiment) adds to the report of a full run
-- instead of replacing it. Entries whose file no longer exists are dropped. Per
-- experiment: NAME.log, and NAME.svg and NAME.csv when it has charts.
-- meta.command: the command line shown for the run.
function M.write_report(dir, results, meta)
  mkdir(dir)
  meta = type(meta) == "table" and meta or {}
  local state = read_state(dir)
  local last = state.runs[#state.runs]
  local failed = 0
  for _, r in ipairs(results) do if not r.ok then failed = failed + 1 end end
  local run = { number = last and last.number + 1 or 1, date = os.date("%Y-%m-%d %H:%M:%S"),
                command = meta.command, experiments = #results, failed = failed }
  state.runs[#state.runs + 1] = run
  while #state.runs > MAX_RUNS do table.remove(state.runs, 1) end

  local by_path = {}
  for i, e in ipairs(state.entries) do by_path[e.path] = i end
  for _, r in ipairs(results) do
    local path = M.absolute(r.path)
    local slug = slug_for(state, path, r.name)
    local recs = #r.recorders > 0 and r.recorders or r.auto
    local files = { log = slug .. ".log" }
    recorder.write(dir .. "/" .. files.log, table.concat(r.output, "\n") .. "\n" ..
      (r.ok and "" or ("\n" .. M.failures({ r }) .. "\n")))
    if #recs > 0 then
      files.svg, files.csv = slug .. ".svg", slug .. ".csv"
      -- the isolates' own timelines are short: one step per sample reads better
      recorder.write(dir .. "/" .. files.svg, recorder.svg(recs, r.title or r.name,
        { x = #r.recorders > 0 and "allocations" or "sample" }))
      recorder.write(dir .. "/" .. files.csv, recorder.csv(recs))
    else
      os.remove(dir .. "/" .. slug .. ".svg")     -- charts of an earlier run of it
      os.remove(dir .. "/" .. slug .. ".csv")
    end
    local e = entry_of(r, slug, run, files)
    if by_path[path] then state.entries[by_path[path]] = e
    else state.entries[#state.entries + 1] = e; by_path[path] = #state.entries end
  end
  -- files deleted or renamed since: their rows and files go
  local kept = {}
  for _, e in ipairs(state.entries) do
    if e.run == run.number or exists(e.path) then kept[#kept + 1] = e
    else
      for _, f in ipairs { e.log, e.svg, e.csv } do if type(f) == "string" then os.remove(dir .. "/" .. f) end end
    end
  end
  table.sort(kept, function(a, b)
    if a.name ~= b.name then return a.name < b.name end
    return a.path < b.path
  end)
  state.entries = kept
  write_state(dir, state)

  local out = {}
  local function add(s) out[#out + 1] = s end
  add('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
  add('<title>scopelab experiments</title>')
  add('<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:1400px}' ..
    'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}' ..
    '.pass{color:#2ca02c;font-weight:bold}' ..
    '.FAIL,.error,.timeout,.exit,.crash,.interrupted{color:#d62728;font-weight:bold}' ..
    '.older{color:#777}section{margin-top:2.5em}img{max-width:100%;border:1px solid #ddd}' ..
    'pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:24em}</style></head><body>')
  add('<h1>scopelab experiments</h1>')
  add(string.format('<p>Latest result of each experiment run into this folder; run #%d: <code>%s</code> (%s).</p>',
    run.number, html(run.command or "?"), html(run.date)))
  add('<table><tr><th>experiment</th><th>claims</th><th>result</th><th>time</th><th>run</th></tr>')
  for _, e in ipairs(state.entries) do
    local older = e.run ~= run.number
    add(string.format('<tr%s><td><a href="#%s">%s</a></td><td>%d/%d</td><td class="%s">%s</td>'
      .. '<td>%s</td><td title="%s">#%d</td></tr>', older and ' class="older"' or "",
      html(e.slug), html(e.name), e.passed, e.claims, html(e.result), html(e.result),
      M.time_text(e), html(e.date or ""), e.run))
  end
  add('</table>')
  add('<h2>Runs</h2><ul>')
  for i = #state.runs, 1, -1 do
    local r = state.runs[i]
    add(string.format('<li>#%d %s: <code>%s</code>: %d experiment%s, %d failed</li>', r.number, html(r.date),
      html(r.command or "?"), r.experiments, r.experiments == 1 and "" or "s", r.failed))
  end
  add('</ul>')
  for _, e in ipairs(state.entries) do
    add(string.format('<section id="%s"><h2>%s</h2>', html(e.slug), html(e.name)))
    add('<p><code>' .. html(e.path) .. '</code></p>')
    if e.title then add('<p>' .. html(e.title) .. '</p>') end
    add(string.format('<p class="%s">%s: %d of %d claims held (%s), run #%d at %s</p>',
      html(e.result), html(e.result), e.passed, e.claims, M.time_text(e), e.run, html(e.date or "?")))
    if e.svg then
      add(string.format('<p><img src="%s" alt="timeline of %s"></p>', html(e.svg), html(e.name)))
      add(string.format('<p><a href="%s">CSV</a> · <a href="%s">log</a></p>', html(e.csv), html(e.log)))
    else
      add(string.format('<p><a href="%s">log</a></p>', html(e.log)))
    end
    add('<pre>' .. html(table.concat(e.output or {}, "\n")) ..
      (e.result == "pass" and "" or ("\n\n" .. html(entry_failures(e)))) .. '</pre></section>')
  end
  add('</body></html>')
  local index = dir .. "/index.html"
  recorder.write(index, table.concat(out, "\n") .. "\n")
  return index
end

-- ------------------------------------------------------------------ command line

M.usage = [==[
usage: runner.lua [--report DIR] [--quiet] [--stress[=N]] [--seed N] [--timeout S] [--trace-gc] files...
  --report DIR   write NAME.svg, NAME.csv, NAME.log and index.html into DIR
  --quiet        do not echo what experiments print (it still goes to the report)
  --stress[=N]   every isolate collects every N allocations (default 7), verifies its
                 heap and moves every object at each major collection
  --seed N       math.randomseed(N) before each experiment
  --timeout S    stop an experiment after S seconds (default 60; 0: no limit)
  --trace-gc     one line per collection (on stderr)]==]

--- Parses arguments; returns opts, files or nil, message.
function M.parse(argv)
  local opts, files = { verbose = true }, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local function value()
      i = i + 1
      if argv[i] == nil then error({ msg = "option '" .. a .. "' needs a value" }) end
      return argv[i]
    end
    local ok, err = pcall(function()
      if a == "--report" then opts.report = value()
      elseif a == "--quiet" or a == "-q" then opts.verbose = false
      elseif a == "--verbose" or a == "-v" then opts.verbose = true
      elseif a == "--trace-gc" then opts.trace_gc = true
      elseif a == "--timeout" then
        local t = tonumber(value())
        if not t or t < 0 or t ~= t or t == math.huge then
          error({ msg = "option '--timeout' needs a number of seconds (0 for no limit)" })
        end
        opts.timeout = t
      elseif a == "--seed" then
        opts.seed = math.tointeger(tonumber(value()))
        if not opts.seed then error({ msg = "option '--seed' needs an integer" }) end
      elseif a:match("^%-%-stress") then
        local n = a:match("^%-%-stress=(%d+)$")
        if a ~= "--stress" and not n then error({ msg = "option '--stress' takes =N, a positive integer" }) end
        opts.stress = math.tointeger(tonumber(n or "7"))
        if opts.stress < 1 then error({ msg = "option '--stress' takes =N, a positive integer" }) end
      elseif a == "--help" or a == "-h" then error({ msg = M.usage, help = true })
      elseif a:match("^%-") then error({ msg = "unknown option '" .. a .. "'" })
      else files[#files + 1] = a end
    end)
    if not ok then
      if type(err) == "table" then return nil, err.msg end
      error(err, 0)
    end
    i = i + 1
  end
  if #files == 0 then return nil, "no experiment files given" end
  opts.isolate_defaults = {}
  if opts.stress then
    opts.isolate_defaults.gc_interval = opts.stress
    opts.isolate_defaults.verify_heap = true
    opts.isolate_defaults.stress_compaction = true   -- every major moves every object
  end
  -- the binding prints one line per collection on stderr, exact, like V8's --trace-gc
  if opts.trace_gc then opts.isolate_defaults.trace_gc = true end
  return opts, files
end

--- The command: returns the exit status.
function M.main(argv)
  if argv[1] == "--child" then return child(argv[2], argv[3], argv[4]) end
  local opts, files = M.parse(argv)
  if not opts then
    io.stderr:write("runner: ", files, "\n", files == M.usage and "" or (M.usage .. "\n"))
    return files == M.usage and 0 or 2
  end
  if opts.verbose then
    opts.on_start = function(path) io.write("== ", basename(path), " ==\n") end
  end
  local results, ok = M.run(files, opts)
  io.write("\n", M.summary(results), "\n")
  if not ok then io.write("\n", M.failures(results), "\n") end
  if opts.report then
    local index = M.write_report(opts.report, results, { command = "runner.lua " .. table.concat(argv, " ") })
    io.write("report: ", index, "\n")
  end
  return ok and 0 or 1
end

-- 'true' closes the state: what the experiments left is finalised before the exit,
-- and a finalizer that crashes shows in the status
if AS_SCRIPT then os.exit(M.main(arg), true) end

return M
