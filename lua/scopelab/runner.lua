--- scopelab.runner: runs experiment scripts, counts their claims, reports.
--
--   lua5.4 lua/scopelab/runner.lua [--report DIR] [--quiet] [--stress[=N]]
--                                  [--seed N] [--trace-gc] files...
--
-- Each experiment runs in its own environment (globals do not leak from one to
-- the next) under pcall, and states its claims through globals the runner
-- gives it:
--
--   claim(cond, "what it proves")              any truth
--   claim.equal(expected, actual, "...")       claim.less(a, b, "...")
--   claim.alive(x, "...")  claim.collected(x, "...")  claim.moved(x, before, "...")
--   claim.handles(iso, n, "...")               claim.raises(fn, "pattern", "...")
--   claim.grows(list, "...")  claim.flat(list, "...")   (lists of numbers)
--   recorder(iso, "name")                      a scopelab.recorder drawn in the report
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
local inspect = require("scopelab.assert").inspect

local M = {}

-- ------------------------------------------------------------------ claims

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
    ex.claims = ex.claims + 1
    if ok then ex.passed = ex.passed + 1
    else
      ex.failures[#ex.failures + 1] = string.format("%s: claim failed: %s%s", site(),
        tostring(desc or "(no description)"), detail and ("\n    " .. detail) or "")
    end
    ex.emit(string.format("  [%s] %s", ok and "ok" or "FAIL", tostring(desc or "(no description)")))
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

-- The first comment line of a script is its title in the report.
local function title_of(path)
  local f = io.open(path, "r")
  if not f then return nil end
  for line in f:lines() do
    local t = line:match("^%-%-+%s*(.-)%s*$")
    if t and t ~= "" and not t:match("^luacheck") then f:close(); return t end
    if not line:match("^%s*$") and not line:match("^#!") and not line:match("^%-%-") then break end
  end
  f:close()
  return nil
end

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

--- Runs one experiment file; returns its result table.
-- opts: verbose (echo output), isolate_defaults, seed, on_output(line)
function M.run_file(path, opts)
  opts = opts or {}
  local ex = {
    path = path, name = basename(path), title = title_of(path),
    claims = 0, passed = 0, failures = {}, output = {},
    recorders = {}, auto = {}, isolates = {},
  }
  function ex.emit(line)
    ex.output[#ex.output + 1] = line
    if opts.verbose then io.write(line, "\n") end
    if opts.on_output then opts.on_output(line) end
  end
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

  -- Collections are noticed by one count hook for every recorder of this
  -- experiment (a coroutine has one hook), and every claim is a sample point.
  local function poll_all()
    for _, r in ipairs(ex.recorders) do if not r.stopped then pcall(r.poll, r) end end
    for _, r in ipairs(ex.auto) do if not r.stopped then pcall(r.poll, r) end end
  end
  ex.on_claim = function()
    for _, r in ipairs(ex.auto) do
      if not r.stopped and not pcall(r.sample, r, "claim") then r.stopped = true end
    end
  end
  local old_hook = { debug.gethook() }
  if old_hook[1] == nil then
    debug.sethook(function()
      poll_all()
    end, "", 1000)
  end

  if opts.seed then math.randomseed(opts.seed) end
  local t0 = os.clock()
  local chunk, lerr = loadfile(path, "t", env)
  if not chunk then
    ex.error = lerr
  else
    local ok, err = xpcall(chunk, debug.traceback)
    -- the traceback stops at the experiment: the runner's frames are noise
    if not ok then ex.error = (tostring(err):gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")) end
  end
  ex.time_ms = (os.clock() - t0) * 1000
  if old_hook[1] == nil then debug.sethook() end
  for _, r in ipairs(ex.recorders) do pcall(r.stop, r) end
  for _, r in ipairs(ex.auto) do
    if not r.stopped then pcall(r.sample, r, "end") end
    r.stopped = true
  end
  if ex.error then
    ex.result = "error"
  elseif ex.claims == 0 then
    ex.result = "error"; ex.error = "the experiment checked no claim"
  elseif #ex.failures > 0 then
    ex.result = "FAIL"
  else
    ex.result = "pass"
  end
  ex.ok = ex.result == "pass"
  -- Dispose what the experiment left open now, not in a later experiment's time.
  ex.isolates = nil
  collectgarbage()
  return ex
end

--- Runs every file in order; returns the results and whether all passed.
-- opts also takes on_start(path, i, n) and on_finish(result, i, n).
function M.run(files, opts)
  opts = opts or {}
  local results, all_ok = {}, true
  for i, path in ipairs(files) do
    if opts.on_start then opts.on_start(path, i, #files) end
    local r = M.run_file(path, opts)
    results[i] = r
    all_ok = all_ok and r.ok
    if opts.on_finish then opts.on_finish(r, i, #files) end
  end
  return results, all_ok
end

-- ------------------------------------------------------------------ summary

local function pad(s, w) return s .. string.rep(" ", w - #s) end

--- The summary table: experiment | claims | result | time.
function M.summary(results)
  local rows = { { "experiment", "claims", "result", "time" } }
  local claims, passed, failed_ex, ms = 0, 0, 0, 0
  for _, r in ipairs(results) do
    rows[#rows + 1] = { r.name, string.format("%d/%d", r.passed, r.claims), r.result,
      string.format("%.1f ms", r.time_ms) }
    claims, passed, ms = claims + r.claims, passed + r.passed, ms + r.time_ms
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
  local ok = os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create report folder '" .. dir .. "'", 2) end
end

--- Writes NAME.svg/.csv/.log per experiment and index.html into 'dir';
-- returns the path of index.html.
function M.write_report(dir, results, meta)
  mkdir(dir)
  meta = meta or {}
  local items = {}
  for _, r in ipairs(results) do
    local recs = #r.recorders > 0 and r.recorders or r.auto
    local files = { log = r.name .. ".log" }
    recorder.write(dir .. "/" .. files.log, table.concat(r.output, "\n") .. "\n" ..
      (r.ok and "" or ("\n" .. M.failures({ r }) .. "\n")))
    if #recs > 0 then
      files.svg, files.csv = r.name .. ".svg", r.name .. ".csv"
      -- the isolates' own timelines are short: one step per sample reads better
      recorder.write(dir .. "/" .. files.svg, recorder.svg(recs, r.title or r.name,
        { x = #r.recorders > 0 and "allocations" or "sample" }))
      recorder.write(dir .. "/" .. files.csv, recorder.csv(recs))
    end
    items[#items + 1] = { r = r, files = files }
  end
  local out = {}
  local function add(s) out[#out + 1] = s end
  add('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">')
  add('<title>scopelab experiments</title>')
  add('<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:1400px}' ..
    'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}' ..
    '.pass{color:#2ca02c;font-weight:bold}.FAIL,.error{color:#d62728;font-weight:bold}' ..
    'section{margin-top:2.5em}img{max-width:100%;border:1px solid #ddd}' ..
    'pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:24em}</style></head><body>')
  add('<h1>scopelab experiments</h1>')
  if meta.command then add('<p>Run: <code>' .. html(meta.command) .. '</code></p>') end
  add('<table><tr><th>experiment</th><th>claims</th><th>result</th><th>time</th></tr>')
  for _, it in ipairs(items) do
    local r = it.r
    add(string.format('<tr><td><a href="#%s">%s</a></td><td>%d/%d</td><td class="%s">%s</td><td>%.1f ms</td></tr>',
      html(r.name), html(r.name), r.passed, r.claims, html(r.result), html(r.result), r.time_ms))
  end
  add('</table>')
  for _, it in ipairs(items) do
    local r, f = it.r, it.files
    add(string.format('<section id="%s"><h2>%s</h2>', html(r.name), html(r.name)))
    if r.title then add('<p>' .. html(r.title) .. '</p>') end
    add(string.format('<p class="%s">%s: %d of %d claims held (%.1f ms)</p>',
      html(r.result), html(r.result), r.passed, r.claims, r.time_ms))
    if f.svg then
      add(string.format('<p><img src="%s" alt="timeline of %s"></p>', html(f.svg), html(r.name)))
      add(string.format('<p><a href="%s">CSV</a> · <a href="%s">log</a></p>', html(f.csv), html(f.log)))
    else
      add(string.format('<p><a href="%s">log</a></p>', html(f.log)))
    end
    add('<pre>' .. html(table.concat(r.output, "\n")) ..
      (r.ok and "" or ("\n\n" .. html(M.failures({ r })))) .. '</pre></section>')
  end
  add('</body></html>')
  local index = dir .. "/index.html"
  recorder.write(index, table.concat(out, "\n") .. "\n")
  return index
end

-- ------------------------------------------------------------------ command line

M.usage = [==[
usage: runner.lua [--report DIR] [--quiet] [--stress[=N]] [--seed N] [--trace-gc] files...
  --report DIR   write NAME.svg, NAME.csv, NAME.log and index.html into DIR
  --quiet        do not echo what experiments print (it still goes to the report)
  --stress[=N]   every isolate collects every N allocations (default 7), verifies its
                 heap and moves every object at each major collection
  --seed N       math.randomseed(N) before each experiment
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

if AS_SCRIPT then os.exit(M.main(arg)) end

return M
