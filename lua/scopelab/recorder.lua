-- SPDX-License-Identifier: MIT
--- scopelab.recorder: timelines of an isolate's statistics, as CSV and SVG.
--
--   local recorder = require "scopelab.recorder"
--   local rec = recorder.new(iso, { name = "loop without a scope" })
--   for i = 1, 1000 do
--     iso:integer(i)
--     rec:mark("iteration", i)     -- a sample at a user mark
--   end
--   rec:stop()
--   rec:write_csv("leak.csv"); rec:write_svg("leak.svg")
--
-- A sample is taken at every mark and after every collection. The binding
-- offers Lua no collection callback (its gc hook runs inside a collection,
-- where a Lua function could call back into the isolate mid-collection), so
-- the recorder polls `iso:stats()` from a count hook (every `poll_every` VM
-- instructions) and at each mark, and a sample taken after one or more
-- collections carries them as events. The counters in the sample are exact;
-- only the moment of a polled sample is approximate.

local svg = require "scopelab.svg"

local M = {}
local Recorder = {}
Recorder.__index = Recorder
Recorder.__name = "scopelab.Recorder"

--- The columns of a sample, in CSV order. Statistics an isolate does not
-- report are left empty.
M.columns = {
  "sample", "clock_ms", "reason", "label", "value",
  "handles", "scope_level", "blocks", "young_used", "old_used",
  "persistent_handles", "weak_handles", "minor_collections", "major_collections",
  "allocations", "native_bytes", "external_memory",
}
local STAT_COLUMNS = {
  "handles", "scope_level", "blocks", "young_used", "old_used",
  "persistent_handles", "weak_handles", "minor_collections", "major_collections",
  "allocations", "native_bytes", "external_memory",
}

local function checkrec(self, fname)
  if getmetatable(self) ~= Recorder then
    error(string.format("bad argument #1 to '%s' (scopelab.Recorder expected, got %s)",
      fname, type(self)), 3)
  end
  return self
end

--- A new recorder sampling `iso` (anything with a `stats()` method returning
-- a table). opts: name (the chart title), poll_every (VM instructions between
-- polls; 0 turns polling off), hook = false (sample at marks only).
function M.new(iso, opts)
  opts = opts or {}
  if type(iso) ~= "userdata" and type(iso) ~= "table" then
    error(string.format("bad argument #1 to 'recorder' (isolate expected, got %s)", type(iso)), 2)
  end
  if type(opts) ~= "table" then
    error(string.format("bad argument #2 to 'recorder' (table expected, got %s)", type(opts)), 2)
  end
  local ok, st = pcall(function() return iso:stats() end)
  if not ok or type(st) ~= "table" then
    error("bad argument #1 to 'recorder' (isolate expected: 'stats' failed: " .. tostring(st) .. ")", 2)
  end
  local self = setmetatable({
    iso = iso,
    name = opts.name or "timeline",
    samples = {},
    events = {},        -- { sample = n, kind = "minor"|"major", count = k }
    started = os.clock(),
    last_minor = st.minor_collections or 0,
    last_major = st.major_collections or 0,
    hooked = false,
  }, Recorder)
  self:sample("start", nil, nil, st)
  if opts.hook ~= false then self:_listen(opts.poll_every or 1000) end
  return self
end

-- Watches for collections: a count hook on the running coroutine that polls
-- the counters (unless another hook is already set: debuggers, profilers).
function Recorder:_listen(every)
  if every and every > 0 and debug.gethook() == nil then
    local this = self
    debug.sethook(function() this:poll() end, "", every)
    self.hooked = true
  end
end

--- Takes a sample if the isolate collected since the last one; returns
-- true when it did. Called by the hook and by every mark.
function Recorder:poll()
  checkrec(self, "poll")
  if self.stopped or self.polling then return false end
  self.polling = true           -- stats() may run Lua code under a hook; no re-entry
  local ok, st = pcall(self.iso.stats, self.iso)
  self.polling = false
  if not ok or type(st) ~= "table" then return false end
  local minor, major = st.minor_collections or 0, st.major_collections or 0
  if minor == self.last_minor and major == self.last_major then return false end
  self:sample(major ~= self.last_major and "major" or "minor", nil, nil, st)
  return true
end

--- Records one sample now. `st` may be given when the caller already has the stats.
function Recorder:sample(reason, label, value, st)
  checkrec(self, "sample")
  st = st or self.iso:stats()
  local n = #self.samples + 1
  local s = {
    sample = n,
    clock_ms = math.floor((os.clock() - self.started) * 1e6 + 0.5) / 1e3,
    reason = reason or "sample", label = label, value = value,
  }
  for _, c in ipairs(STAT_COLUMNS) do s[c] = st[c] end
  local minor, major = st.minor_collections or 0, st.major_collections or 0
  if minor > self.last_minor then
    self.events[#self.events + 1] = { sample = n, kind = "minor", count = minor - self.last_minor }
  end
  if major > self.last_major then
    self.events[#self.events + 1] = { sample = n, kind = "major", count = major - self.last_major }
  end
  self.last_minor, self.last_major = minor, major
  self.samples[n] = s
  return s
end

--- A sample at a user mark: `rec:mark("iteration", i)`.
function Recorder:mark(label, value)
  checkrec(self, "mark")
  if type(label) ~= "string" then
    error(string.format("bad argument #1 to 'mark' (string expected, got %s)", type(label)), 2)
  end
  if self.stopped then error("bad argument #1 to 'mark' (recorder is stopped)", 2) end
  self:poll()          -- collections since the last sample get their own sample first
  return self:sample("mark", label, value)
end

--- Stops listening (removes the count hook); takes a final sample.
function Recorder:stop()
  checkrec(self, "stop")
  if self.stopped then return self end
  self:poll()
  if self.hooked then debug.sethook(); self.hooked = false end
  pcall(self.sample, self, "stop")   -- a disposed isolate has no final sample
  self.stopped = true
  return self
end
Recorder.__close = Recorder.stop

--- The values of one column over all samples.
function Recorder:series(column)
  checkrec(self, "series")
  local out = {}
  for i, s in ipairs(self.samples) do out[i] = s[column] end
  return out
end

--- Samples taken at marks with this label (all marks if nil).
function Recorder:marks(label)
  local out = {}
  for _, s in ipairs(self.samples) do
    if s.reason == "mark" and (label == nil or s.label == label) then out[#out + 1] = s end
  end
  return out
end

-- CSV quoting per RFC 4180: only when needed.
local function csvfield(v)
  if v == nil then return "" end
  local s = tostring(v)
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

--- CSV text of one or more recorders; with several, a first `recording` column
-- names each row's recorder.
function M.csv(recs)
  if getmetatable(recs) == Recorder then recs = { recs } end
  local multi = #recs > 1
  local lines = {}
  local head = {}
  if multi then head[1] = "recording" end
  for _, c in ipairs(M.columns) do head[#head + 1] = c end
  lines[1] = table.concat(head, ",")
  for _, r in ipairs(recs) do
    for _, s in ipairs(r.samples) do
      local row = {}
      if multi then row[1] = csvfield(r.name) end
      for _, c in ipairs(M.columns) do row[#row + 1] = csvfield(s[c]) end
      lines[#lines + 1] = table.concat(row, ",")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end
function Recorder:csv() return M.csv({ self }) end

-- The x of a sample: objects allocated so far when the isolate reports it
-- (the same work lands at the same x in a leak and its fix), else its number.
local function xof(r, s)
  if r.x_by_allocations then return s.allocations end
  return s.sample
end

local function by_allocations(recs)
  for _, r in ipairs(recs) do
    for _, s in ipairs(r.samples) do
      if math.type(s.allocations) == nil then return false end
    end
  end
  return true
end

-- At most `max` points per series keep the files small; the last point always
-- stays, and a thinned stride keeps each chosen sample's exact value.
local function points(r, column, scale, max)
  local pts, n = {}, #r.samples
  local stride = math.max(1, math.ceil(n / max))
  for i = 1, n, stride do
    local s = r.samples[i]
    if s[column] then pts[#pts + 1] = { xof(r, s), s[column] / scale } end
  end
  local last = r.samples[n]
  if n > 0 and (n - 1) % stride ~= 0 and last[column] then
    pts[#pts + 1] = { xof(r, last), last[column] / scale }
  end
  return pts
end

local function events(r)
  local out = {}
  for _, e in ipairs(r.events) do
    local s = r.samples[e.sample]
    out[#out + 1] = { x = xof(r, s), kind = e.kind,
      label = string.format("%d %s collection%s before sample %d", e.count, e.kind,
        e.count == 1 and "" or "s", e.sample) }
  end
  return out
end

--- The series a chart draws: handle counts on top, heap bytes below, and native
-- memory (iso:native_alloc blocks, iso:adjust_external_memory's total) under
-- them when some sample has any ('optional': most experiments have none).
M.rows = {
  { title = "handles", unit = "", scale = 1,
    series = { "handles", "persistent_handles" } },
  { title = "heap used (KiB)", unit = "", scale = 1024,
    series = { "young_used", "old_used" } },
  { title = "native memory (KiB)", unit = "", scale = 1024, optional = true,
    series = { "native_bytes", "external_memory" } },
}

-- The rows worth drawing for these recorders.
local function rows_for(recs)
  local out = {}
  for _, row in ipairs(M.rows) do
    local used = not row.optional
    for _, r in ipairs(recs) do
      for _, s in ipairs(r.samples) do
        for _, col in ipairs(row.series) do
          if (s[col] or 0) ~= 0 then used = true end
        end
      end
    end
    if used then out[#out + 1] = row end
  end
  return out
end

-- Heap rows in KiB unless every value is under 4 KiB, where KiB would show
-- as a column of decimals.
local function heap_scale(recs, row)
  local max = 0
  for _, r in ipairs(recs) do
    for _, s in ipairs(r.samples) do
      for _, col in ipairs(row.series) do
        if (s[col] or 0) > max then max = s[col] end
      end
    end
  end
  if row.scale == 1024 and max < 4096 then return 1, (row.title:gsub("%(KiB%)", "(bytes)")) end
  return row.scale, row.title
end

--- An SVG document: one column per recorder, side by side, every row on one
-- shared scale so that a growing curve and a flat one compare at a glance.
-- opts.x: "allocations" (the default when every sample has the count: the same
-- work lands at the same x in a leak and its fix) or "sample" (one step per
-- sample: better for short scripts where many samples share one allocation count).
function M.svg(recs, title, opts)
  if getmetatable(recs) == Recorder then recs = { recs } end
  opts = opts or {}
  local pw, ph = opts.panel_width or 460, opts.panel_height or 250
  local top = title and 34 or 0
  local alloc_x = opts.x ~= "sample" and by_allocations(recs)
  for _, r in ipairs(recs) do r.x_by_allocations = alloc_x end
  local frags = {}
  if title then
    frags[1] = string.format('<text x="%s" y="22" font-size="16" font-weight="bold">%s</text>',
      svg.num(10), svg.escape(title))
  end
  local rows = rows_for(recs)
  for ri, row in ipairs(rows) do
    local built, ymax = {}, 0
    local scale, row_title = heap_scale(recs, row)
    for ci, r in ipairs(recs) do
      local series = {}
      for _, col in ipairs(row.series) do
        local pts = points(r, col, scale, opts.max_points or 600)
        if #pts > 0 then series[#series + 1] = { name = col, points = pts } end
      end
      local _, _, ym = svg.extent(series)
      if ym > ymax then ymax = ym end
      built[ci] = series
    end
    for ci, r in ipairs(recs) do
      frags[#frags + 1] = svg.panel{
        x = (ci - 1) * pw, y = top + (ri - 1) * ph, width = pw, height = ph,
        title = r.name .. ": " .. row_title, series = built[ci], ymax = ymax,
        events = events(r), unit = row.unit,
        x_label = alloc_x and "objects allocated" or "sample",
      }
    end
  end
  -- wide enough for the title (about 9 px per character of 16 px bold text)
  local width = math.max(pw * math.max(1, #recs), title and (#title * 9 + 20) or 0)
  return svg.document(width, top + ph * #rows, frags, title)
end
function Recorder:svg(title) return M.svg({ self }, title or self.name) end

local function write(path, text)
  local f, err = io.open(path, "w")
  if not f then error("cannot write '" .. tostring(path) .. "' (" .. tostring(err) .. ")", 3) end
  f:write(text)
  f:close()
  return path
end
M.write = write

function Recorder:write_csv(path) return write(path, self:csv()) end
function Recorder:write_svg(path, title) return write(path, self:svg(title)) end

function Recorder:__tostring()
  return string.format("scopelab.Recorder: %s (%d samples, %d collection events%s)",
    self.name, #self.samples, #self.events, self.stopped and ", stopped" or "")
end

M.Recorder = Recorder
setmetatable(M, { __call = function(_, ...) return M.new(...) end })
return M
