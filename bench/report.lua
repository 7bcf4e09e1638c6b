-- SPDX-License-Identifier: MIT
-- report.lua: turns the benchmark rows into the table, results.json and an SVG chart.
--
--   lua5.4 bench/report.lua ROWS.tsv RESULTS.json CHART.svg
--
-- ROWS.tsv holds one series per line, as bench/harness.c and bench/bintrees.lua
-- write them: workload, case, impl, unit, median, min, max, reps, note ("-" for
-- the numbers of a side that could not run). Each scopelab series is compared
-- with every other side of the same workload and case; the targets of issues 7
-- and 14 are checked and reported as met or missed. A missed target is a finding, not
-- a failure: this script exits 0 unless its input is unreadable.

local rows_path, json_path, svg_path = arg[1], arg[2], arg[3]
if not (rows_path and json_path and svg_path) then
  io.stderr:write("usage: lua5.4 bench/report.lua ROWS.tsv RESULTS.json CHART.svg\n")
  os.exit(2)
end

-- Targets from issues 7 and 14: 'ratio' bounds scopelab / 'vs', 'value' bounds
-- the scopelab median itself (in the row's unit).
local TARGETS = {
  { workload = "handles", case = "^create %(per Local%)$", vs = "floor", ratio = 1.3 },
  { workload = "handles", case = "^open%+close %(per scope%)$", vs = "floor", ratio = 1.5 },
  { workload = "objects", case = "^property get%+set", vs = "array", ratio = 2 },
  { workload = "binary-trees", vs = "malloc", ratio = 0.5 },
  { workload = "binary-trees", vs = "boehm", ratio = 0.3 },
  { workload = "gcbench", vs = "boehm", ratio = 0.5 },
  { workload = "lua-bintrees", vs = "lua-tables", ratio = 2 },
  { workload = "scavenge", unit = "ns/survivor", value = 8 },
  { workload = "full-gc", case = "^10%^7", value = 1000 },
}

local function split(line)
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  return f
end

local rows, order = {}, {}
do
  local fh = assert(io.open(rows_path, "r"))
  for line in fh:lines() do
    if line ~= "" then
      local f = split(line)
      local r = { workload = f[1], case = f[2], impl = f[3], unit = f[4],
                  median = tonumber(f[5]), min = tonumber(f[6]), max = tonumber(f[7]),
                  reps = math.tointeger(tonumber(f[8])) or 0, note = f[9] or "" }
      local key = r.workload .. "\0" .. r.case
      if not rows[key] then
        rows[key] = { workload = r.workload, case = r.case, sides = {} }
        order[#order + 1] = key
      end
      table.insert(rows[key].sides, r)
    end
  end
  fh:close()
end

local function target_for(workload, case, vs, unit)
  for _, t in ipairs(TARGETS) do
    if t.workload == workload and (not t.case or case:match(t.case))
      and (t.vs == vs) and (not t.unit or t.unit == unit) then
      return t
    end
  end
end

local function fmt(x)
  if x == nil then return "-" end
  if x >= 100 then return ("%.0f"):format(x) end
  if x >= 10 then return ("%.1f"):format(x) end
  return ("%.2f"):format(x)
end

-- Every comparison: scopelab against each other side of its row, plus value targets.
local comparisons = {}
for _, key in ipairs(order) do
  local g = rows[key]
  local sl
  for _, s in ipairs(g.sides) do if s.impl == "scopelab" then sl = s end end
  if sl then
    -- a value target goes on the first comparison without a ratio target of its own
    local vt = target_for(g.workload, g.case, nil, sl.unit)
    local placed = false
    for _, s in ipairs(g.sides) do
      if s ~= sl then
        local c = { workload = g.workload, case = g.case, scopelab = sl, vs = s }
        if s.median and sl.median and s.median > 0 then c.ratio = sl.median / s.median end
        local t = target_for(g.workload, g.case, s.impl, sl.unit)
        if t then
          c.target = ("<= %gx"):format(t.ratio)
          if c.ratio then c.met = c.ratio <= t.ratio end
        elseif vt and not placed then
          c.target = ("<= %g %s"):format(vt.value, sl.unit)
          c.met = sl.median <= vt.value
          placed = true
        end
        comparisons[#comparisons + 1] = c
      end
    end
    if not placed and vt then
      comparisons[#comparisons + 1] = { workload = g.workload, case = g.case, scopelab = sl,
        target = ("<= %g %s"):format(vt.value, sl.unit), met = sl.median <= vt.value,
        budget = sl.median / vt.value }
    elseif #g.sides == 1 and not vt then
      comparisons[#comparisons + 1] = { workload = g.workload, case = g.case, scopelab = sl }
    end
  end
end

-- The machine, for the README's Performance section.
local function first_line(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  if not p then return "?" end
  local l = p:read("l") or "?"
  p:close()
  return l
end
local machine = {
  cpu = first_line("grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'"),
  cores = math.tointeger(tonumber(first_line("nproc"))) or 0,
  kernel = first_line("uname -sr"),
  os = first_line(". /etc/os-release && echo \"$PRETTY_NAME\""),
  compiler = first_line("${CC:-cc} --version"),
  lua = _VERSION,
  date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
}

-- The table, in Markdown so it can go into the README as printed.
print()
print(("scopelab benchmarks: %s, %d cores, %s, %s"):format(machine.cpu, machine.cores,
  machine.os, machine.compiler))
print()
print("| workload | case | scopelab median (min-max) | comparator median | ratio | target | |")
print("|---|---|---|---|---|---|---|")
local met, missed = 0, 0
for _, c in ipairs(comparisons) do
  local sl = c.scopelab
  local comp, ratio = "-", "-"
  if c.vs then
    comp = c.vs.median and ("%s %s %s"):format(c.vs.impl, fmt(c.vs.median), c.vs.unit)
      or ("%s: %s"):format(c.vs.impl, c.vs.note)
    ratio = c.ratio and ("%.2fx"):format(c.ratio) or "-"
  end
  local verdict = ""
  if c.met == true then verdict = "met"; met = met + 1
  elseif c.met == false then verdict = "missed"; missed = missed + 1 end
  print(("| %s | %s | %s %s (%s-%s) | %s | %s | %s | %s |"):format(c.workload, c.case,
    fmt(sl.median), sl.unit, fmt(sl.min), fmt(sl.max), comp, ratio, c.target or "report", verdict))
end
print()
print(("targets: %d met, %d missed (a missed target is reported, never a failure)"):format(met, missed))

-- results.json, by a small encoder: every value here is a string, number,
-- boolean, array (sequence) or record.
local function encode(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(ch)
      local map = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" }
      return map[ch] or ("\\u%04x"):format(ch:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
    elseif math.type(v) == "integer" then out[#out + 1] = tostring(v)
    else out[#out + 1] = ("%.6g"):format(v) end
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "nil" then
    out[#out + 1] = "null"
  elseif #v > 0 then
    out[#out + 1] = "["
    for i, x in ipairs(v) do
      if i > 1 then out[#out + 1] = "," end
      encode(x, out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      encode(k, out)
      out[#out + 1] = ":"
      encode(v[k], out)
    end
    out[#out + 1] = "}"
  end
end

local series = {}
for _, key in ipairs(order) do
  for _, s in ipairs(rows[key].sides) do series[#series + 1] = s end
end
local json_cmp = {}
for _, c in ipairs(comparisons) do
  json_cmp[#json_cmp + 1] = { workload = c.workload, case = c.case,
    scopelab_median = c.scopelab.median, unit = c.scopelab.unit,
    comparator = c.vs and c.vs.impl or nil, comparator_median = c.vs and c.vs.median or nil,
    ratio = c.ratio, target = c.target, met = c.met }
end
do
  local out = {}
  encode({ machine = machine, series = series, comparisons = json_cmp,
           targets_met = met, targets_missed = missed }, out)
  local fh = assert(io.open(json_path, "w"))
  fh:write(table.concat(out), "\n")
  fh:close()
end

-- The chart: one bar per comparison, scopelab / comparator on a log scale
-- (value targets as median / target), with 1x and each target marked.
do
  local bars = {}
  for _, c in ipairs(comparisons) do
    local r, label, tgt
    if c.ratio then
      r, label = c.ratio, ("%s: %s vs %s"):format(c.workload, c.case, c.vs.impl)
      local t = target_for(c.workload, c.case, c.vs.impl, c.scopelab.unit)
      tgt = t and t.ratio
    elseif c.budget then
      r, label, tgt = c.budget, ("%s: %s vs target"):format(c.workload, c.case), 1
    end
    if r and r > 0 then bars[#bars + 1] = { r = r, label = label, target = tgt, met = c.met } end
  end
  local lo, hi = 0.1, 10
  for _, b in ipairs(bars) do
    lo = math.min(lo, b.r / 1.5)
    hi = math.max(hi, b.r * 1.5)
  end
  local left, width, rowh, top = 430, 440, 18, 40
  local W, H = left + width + 80, top + rowh * #bars + 40
  local function x(v) return left + width * (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) end
  local function esc(s) return (s:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;")) end
  local svg = {}
  local function add(...) svg[#svg + 1] = string.format(...) end
  add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">', W, H)
  add('<rect width="100%%" height="100%%" fill="white"/>')
  add('<text x="10" y="18" font-size="13">%s</text>',
    "scopelab / comparator, median (log scale; | = target, green met, red missed)")
  for e = math.floor(math.log(lo, 10)), math.ceil(math.log(hi, 10)) do
    local v = 10 ^ e
    if v >= lo and v <= hi then
      add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>', x(v), top - 5, x(v), top + rowh * #bars)
      add('<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%gx</text>', x(v), top + rowh * #bars + 14, v)
    end
  end
  add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>', x(1), top - 5, x(1), top + rowh * #bars)
  for i, b in ipairs(bars) do
    local y = top + (i - 1) * rowh
    local colour = b.met == true and "#4a9" or b.met == false and "#d55" or "#79b"
    local x0, x1 = x(math.min(1, b.r)), x(math.max(1, b.r))
    add('<text x="%d" y="%d" text-anchor="end">%s</text>', left - 6, y + 12, esc(b.label))
    add('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>', x0, y + 2, math.max(1, x1 - x0), rowh - 4, colour)
    add('<text x="%.1f" y="%d">%.2fx</text>', x(math.max(1, b.r)) + 4, y + 12, b.r)
    if b.target then
      add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>',
        x(b.target), y, x(b.target), y + rowh)
    end
  end
  add('</svg>')
  local fh = assert(io.open(svg_path, "w"))
  fh:write(table.concat(svg, "\n"), "\n")
  fh:close()
end
print(("wrote %s and %s"):format(json_path, svg_path))
