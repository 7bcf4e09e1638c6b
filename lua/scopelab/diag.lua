-- SPDX-License-Identifier: MIT
--- scopelab.diag: the pure-Lua half of the diagnostics (issue 6).
--
--   scopelab.diff(a, b)        what changed between two snapshots of one isolate
--   scopelab.to_json(v)        a JSON text for a snapshot, diff or report (any plain data)
--   snap:json()  diff:json()   the same, as methods
--   tostring(snap), tostring(diff), tostring(iso:handle_report()),
--   tostring(iso:persistent_report())   readable summaries
--
-- The binding (csrc/lua/lscopelab.c) returns snapshots and reports as plain tables.
-- install(M) wraps the Isolate methods 'snapshot', 'handle_report' and
-- 'persistent_report' so that what they return gets a metatable: the fields are
-- exactly the binding's, only 'json' and '__tostring' are added. The wrapping is
-- done on the binding's method table (shared by every isolate) and only once per
-- method table: busted re-opens the C module in every spec file, which builds a
-- fresh table, and the next install wraps that one.
local M = {}

-- ------------------------------------------------------------------ JSON

-- JSON has no integer/float split, but a Lua float must stay a float when read back
-- by something that cares (2.0, not 2): '%.17g' round-trips every double, and a
-- float with no '.', 'e', "inf" or "nan" gets ".0".
local function number_text(x)
  if math.type(x) == "integer" then return string.format("%d", x) end
  if x ~= x or x == math.huge or x == -math.huge then
    return nil, "number " .. tostring(x) .. " has no JSON form"
  end
  local s = string.format("%.17g", x)
  if not s:find("[%.eEn]") then s = s .. ".0" end
  return s
end

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function string_text(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- A table is an array when its keys are exactly 1..n (n >= 1); {} is an empty
-- object, except a table registered with M.json_array. The register is a weak set
-- beside the tables, not a key inside them, so pairs() over a report sees only
-- the binding's fields.
local empty_arrays = setmetatable({}, { __mode = "k" })

local function is_array(t)
  local n = rawlen(t)
  if n == 0 then return empty_arrays[t] ~= nil end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  return a < b
end

-- The path of the value being written, for an error: "value", then "[i]" or ".k" per
-- open table. Built only when something is refused, so a deep nesting costs one
-- frame per level, never a path string per level.
local function path_of(stack)
  local parts = { "value" }
  for i = 1, #stack do
    local f = stack[i]
    if f.keys then parts[#parts + 1] = "." .. tostring(f.keys[f.i])
    else parts[#parts + 1] = "[" .. f.i .. "]" end
  end
  return table.concat(parts)
end

-- Opens table 'v' for writing: its frame { t, keys (nil for an array), i, n }, or
-- nil and why it cannot be written.
local function open_table(v, out)
  if is_array(v) then
    out[#out + 1] = "["
    return { t = v, i = 0, n = rawlen(v) }
  end
  local keys = {}
  for k, x in pairs(v) do
    if type(x) ~= "function" then
      if type(k) ~= "string" and math.type(k) ~= "integer" then
        return nil, "a " .. type(k) .. " key"
      end
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, key_order)                      -- stable output: diffable files
  out[#out + 1] = "{"
  return { t = v, keys = keys, i = 0, n = #keys }
end

-- Writes 'v' into 'out' (a list of pieces) with an explicit stack of open tables,
-- so the depth of the data is bounded by memory, not by Lua's stack. 'seen' holds
-- the tables open on the stack: one met again is a cycle, refused instead of
-- looping forever (the same table twice side by side is fine).
local function write(v, out)
  local stack, seen = {}, {}
  local function refuse(why) error(("cannot write %s as JSON (%s)"):format(path_of(stack), why), 0) end
  while true do
    local t = type(v)
    if t == "nil" then out[#out + 1] = "null"
    elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
    elseif t == "number" then
      local s, err = number_text(v)
      if not s then refuse(err) end
      out[#out + 1] = s
    elseif t == "string" then out[#out + 1] = string_text(v)
    elseif t == "table" then
      if seen[v] then refuse("a cycle") end
      local frame, err = open_table(v, out)
      if not frame then refuse(err) end
      seen[v] = true
      stack[#stack + 1] = frame
    else
      refuse("a " .. t)
    end
    -- the next value: the next element of the innermost open table, closing the
    -- tables that are done on the way out
    v = nil
    while #stack > 0 do
      local f = stack[#stack]
      if f.i < f.n then
        if f.i > 0 then out[#out + 1] = "," end
        f.i = f.i + 1
        if f.keys then
          local k = f.keys[f.i]
          out[#out + 1] = string_text(tostring(k))
          out[#out + 1] = ":"
          v = rawget(f.t, k)
        else
          v = rawget(f.t, f.i)
        end
        break
      end
      out[#out + 1] = f.keys and "}" or "]"
      seen[f.t] = nil
      stack[#stack] = nil
    end
    if #stack == 0 then return end
  end
end

--- scopelab.to_json(v) -> string. Tables with keys 1..n become arrays, others objects
-- with sorted keys; integers stay integers; functions in tables are skipped (methods).
function M.to_json(v)
  local out = {}
  local ok, err = pcall(write, v, out)
  if not ok then error("bad argument #1 to 'to_json' (" .. tostring(err) .. ")", 2) end
  return table.concat(out)
end

--- Marks 't' to be written as a JSON array even when empty; returns 't'.
function M.json_array(t)
  empty_arrays[t] = true
  return t
end

-- ------------------------------------------------------------------ snapshots

local KINDS = { "integer", "number", "string", "array", "object", "properties", "function",
                "external" }
-- "frame" (the receivers and arguments of calls running) is counted only when a
-- call runs: a snapshot leaves it out when 0.
local ROOT_KINDS = { "local", "persistent", "eternal", "remembered", "frame" }

local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

local Snapshot = { __name = "scopelab.Snapshot" }
Snapshot.__index = Snapshot

function Snapshot.json(self) return M.to_json(self) end

-- Objects and bytes per kind of a snapshot: { integer = {count=, bytes=}, ... }.
local function by_kind(objects)
  local t = {}
  for _, o in ipairs(objects) do
    local k = t[o.kind] or { count = 0, bytes = 0 }
    k.count, k.bytes = k.count + 1, k.bytes + o.size
    t[o.kind] = k
  end
  return t
end

function Snapshot.__tostring(self)
  local kinds, parts = by_kind(self.objects or {}), {}
  for _, k in ipairs(KINDS) do
    local e = kinds[k]
    if e then parts[#parts + 1] = ("%s %d (%d B)"):format(k, e.count, e.bytes) end
  end
  local roots = {}
  for _, k in ipairs(ROOT_KINDS) do
    local n = (self.roots or {})[k] or 0
    if k ~= "frame" or n > 0 then roots[#roots + 1] = ("%s %d"):format(k, n) end
  end
  return ("scopelab.Snapshot: %s, %d bytes%s; roots: %s"):format(
    plural(self.count or #(self.objects or {}), "object"), self.bytes or 0,
    #parts > 0 and (" (" .. table.concat(parts, ", ") .. ")") or "",
    table.concat(roots, ", "))
end

--- Gives a snapshot table its methods (json, tostring). Returns it.
function M.snapshot(t)
  if getmetatable(t) == nil then setmetatable(t, Snapshot) end
  if type(t.objects) == "table" then M.json_array(t.objects) end
  return t
end

-- ------------------------------------------------------------------ diff

local Diff = { __name = "scopelab.Diff" }
Diff.__index = Diff

function Diff.json(self) return M.to_json(self) end

local function signed(n) return (n >= 0 and "+" or "") .. n end

function Diff.__tostring(self)
  local lines = {
    ("scopelab.Diff: +%s (+%d B), -%s (-%d B), net %s B"):format(
      plural(self.added.count, "object"), self.added.bytes,
      plural(self.removed.count, "object"), self.removed.bytes, signed(self.net_bytes)),
  }
  for _, k in ipairs(KINDS) do
    local a, r = self.added.kinds[k], self.removed.kinds[k]
    if a.count > 0 or r.count > 0 then
      lines[#lines + 1] = ("  %-8s +%d (+%d B)  -%d (-%d B)"):format(k, a.count, a.bytes,
        r.count, r.bytes)
    end
  end
  if self.promoted > 0 then lines[#lines + 1] = ("  promoted %d"):format(self.promoted) end
  local grown = {}
  for _, k in ipairs(self.grown) do
    grown[#grown + 1] = ("%s %s"):format(k, signed(self.roots[k].delta))
  end
  lines[#lines + 1] = "  roots grew: " .. (#grown > 0 and table.concat(grown, ", ") or "none")
  return table.concat(lines, "\n")
end

-- snapshot -> the token of the isolate that took it (weak keys: a token is a plain
-- table, so a snapshot never keeps its isolate alive). Set by the wrapped
-- iso:snapshot(); a snapshot built by hand or read back from JSON has none.
local snapshot_owner = setmetatable({}, { __mode = "k" })
local isolate_token = setmetatable({}, { __mode = "k" })

local function token_of(iso)
  local t = isolate_token[iso]
  if not t then t = {}; isolate_token[iso] = t end
  return t
end

-- Why 's' is not a snapshot diff can read, or nil: every field diff does arithmetic
-- on is checked here, so a malformed table fails naming 'diff', not inside it.
local function snapshot_problem(s)
  if type(s) ~= "table" or type(s.objects) ~= "table" or type(s.roots) ~= "table" then
    return "got " .. (type(s) == "table" and "table without 'objects' and 'roots'" or type(s))
  end
  for i, o in ipairs(s.objects) do
    if type(o) ~= "table" then return ("objects[%d] is a %s, not an object"):format(i, type(o)) end
    for _, f in ipairs { { "id", "integer" }, { "size", "integer" }, { "kind", "string" },
                         { "generation", "string" } } do
      local v = o[f[1]]
      if (f[2] == "integer" and math.type(v) ~= "integer") or (f[2] == "string" and type(v) ~= "string") then
        return ("objects[%d] has no %s '%s'"):format(i, f[2], f[1])
      end
    end
  end
  for _, k in ipairs(ROOT_KINDS) do
    local v = s.roots[k]
    if v ~= nil and math.type(v) ~= "integer" then
      return ("roots.%s is a %s, not an integer"):format(k, type(v))
    end
  end
  return nil
end

local function check_snapshot(s, n)
  local problem = snapshot_problem(s)
  if problem then
    error(("bad argument #%d to 'diff' (snapshot expected, %s)"):format(n, problem), 3)
  end
end

--- scopelab.diff(a, b): b compared with a (both from iso:snapshot(), a taken first).
-- Objects are matched by id, which never changes when an object moves and is never
-- reused, so "added" is exactly what was allocated since a and is still in the heap,
-- "removed" exactly what a collection freed in between.
--   added, removed = { count, bytes, kinds = { integer = {count, bytes}, ... }, ids }
--   roots = { local = {before, after, delta}, ... }   grown = { "local", ... }
--   promoted (young in a, old in b), net_count, net_bytes
function M.diff(a, b)
  check_snapshot(a, 1)
  check_snapshot(b, 2)
  -- ids are allocation numbers of one isolate: across two they match unrelated objects
  local oa, ob = snapshot_owner[a], snapshot_owner[b]
  if oa and ob and oa ~= ob then
    error("bad argument #2 to 'diff' (snapshot of another isolate: ids count per isolate)", 2)
  end
  local before, after = {}, {}
  for _, o in ipairs(a.objects) do before[o.id] = o end
  for _, o in ipairs(b.objects) do after[o.id] = o end
  local function side()
    local kinds = {}
    for _, k in ipairs(KINDS) do kinds[k] = { count = 0, bytes = 0 } end
    return { count = 0, bytes = 0, kinds = kinds, ids = M.json_array({}) }
  end
  local added, removed, promoted = side(), side(), 0
  local function add(s, o)
    s.count, s.bytes = s.count + 1, s.bytes + o.size
    local k = s.kinds[o.kind]
    if not k then k = { count = 0, bytes = 0 }; s.kinds[o.kind] = k end
    k.count, k.bytes = k.count + 1, k.bytes + o.size
    s.ids[#s.ids + 1] = o.id
  end
  for _, o in ipairs(b.objects) do
    local old = before[o.id]
    if not old then add(added, o)
    elseif old.generation == "young" and o.generation == "old" then promoted = promoted + 1 end
  end
  for _, o in ipairs(a.objects) do
    if not after[o.id] then add(removed, o) end
  end
  table.sort(added.ids)
  table.sort(removed.ids)
  local roots, grown = {}, {}
  for _, k in ipairs(ROOT_KINDS) do
    local x, y = a.roots[k] or 0, b.roots[k] or 0
    if k ~= "frame" or x > 0 or y > 0 then
      roots[k] = { before = x, after = y, delta = y - x }
      if y > x then grown[#grown + 1] = k end
    end
  end
  return setmetatable({
    added = added, removed = removed, promoted = promoted,
    roots = roots, grown = M.json_array(grown),
    net_count = added.count - removed.count, net_bytes = added.bytes - removed.bytes,
  }, Diff)
end

-- ------------------------------------------------------------------ reports

local HandleReport = { __name = "scopelab.HandleReport" }
HandleReport.__index = HandleReport

function HandleReport.json(self) return M.to_json(self) end

function HandleReport.__tostring(self)
  local total = 0
  for _, s in ipairs(self) do total = total + s.handles end
  local lines = { ("scopelab.HandleReport: %s open, %s"):format(plural(#self, "scope"),
    plural(total, "handle")) }
  for _, s in ipairs(self) do
    local extra = {}
    if s.capacity and s.capacity > 0 then extra[#extra + 1] = "capacity " .. s.capacity end
    if s.escaped then extra[#extra + 1] = "escaped" end
    if s.implicit then extra[#extra + 1] = "implicit: opened by iso:call" end
    lines[#lines + 1] = ("  %d. %-9s level %-2d %6d handles  opened at %s%s"):format(
      s.depth, s.kind, s.level, s.handles, s.site or "?",
      #extra > 0 and ("  (" .. table.concat(extra, ", ") .. ")") or "")
  end
  return table.concat(lines, "\n")
end

--- Gives iso:handle_report()'s list its methods. Returns it.
function M.handle_report(t)
  if getmetatable(t) == nil then setmetatable(t, HandleReport) end
  M.json_array(t)
  return t
end

local PersistentReport = { __name = "scopelab.PersistentReport" }
PersistentReport.__index = PersistentReport

function PersistentReport.json(self)
  local groups = M.json_array({})
  for i, g in ipairs(self) do groups[i] = g end
  return M.to_json({ total = self.total, empty = self.empty, groups = groups })
end

function PersistentReport.__tostring(self)
  local empty = (self.empty or 0) > 0 and (", %d emptied but not deleted"):format(self.empty) or ""
  local lines = { ("scopelab.PersistentReport: %s live%s, %s"):format(
    plural(self.total or 0, "persistent handle"), empty, plural(#self, "creation site")) }
  for _, g in ipairs(self) do
    local notes = {}
    if (g.weak or 0) > 0 then notes[#notes + 1] = g.weak .. " weak" end
    if (g.empty or 0) > 0 then notes[#notes + 1] = g.empty .. " empty" end
    lines[#lines + 1] = ("  %6d  created at %s%s"):format(g.count, g.site or "? (from C)",
      #notes > 0 and (" (" .. table.concat(notes, ", ") .. ")") or "")
  end
  return table.concat(lines, "\n")
end

--- Gives iso:persistent_report()'s list its methods. Returns it.
function M.persistent_report(t)
  if getmetatable(t) == nil then setmetatable(t, PersistentReport) end
  return t
end

local NativeReport = { __name = "scopelab.NativeReport" }
NativeReport.__index = NativeReport

function NativeReport.json(self)
  local groups = M.json_array({})
  for i, g in ipairs(self) do groups[i] = g end
  return M.to_json({ blocks = self.blocks, bytes = self.bytes, groups = groups })
end

function NativeReport.__tostring(self)
  local lines = { ("scopelab.NativeReport: %s, %d bytes not freed, %s"):format(
    plural(self.blocks or 0, "native block"), self.bytes or 0, plural(#self, "allocation site")) }
  for _, g in ipairs(self) do
    lines[#lines + 1] = ("  %10d bytes in %s%s  allocated at %s"):format(g.bytes,
      plural(g.count, "block"), g.label and (" '" .. g.label .. "'") or "", g.site or "? (from C)")
  end
  return table.concat(lines, "\n")
end

--- Gives iso:native_report()'s list its methods. Returns it.
function M.native_report(t)
  if getmetatable(t) == nil then setmetatable(t, NativeReport) end
  return t
end

-- ------------------------------------------------------------------ install

-- method table -> true once wrapped (weak keys: a table busted dropped goes away).
local wrapped = setmetatable({}, { __mode = "k" })

local function wrap_methods(methods)
  if wrapped[methods] then return end
  wrapped[methods] = true
  for name, give in pairs { handle_report = M.handle_report,
                            persistent_report = M.persistent_report,
                            native_report = M.native_report } do
    local raw = methods[name]
    if type(raw) == "function" then
      methods[name] = function(...) return give(raw(...)) end
    end
  end
  local raw_snapshot = methods.snapshot
  if type(raw_snapshot) == "function" then
    methods.snapshot = function(iso, ...)
      local snap = raw_snapshot(iso, ...)
      if type(snap) == "table" then snapshot_owner[snap] = token_of(iso) end
      return M.snapshot(snap)
    end
  end
end

--- Exports diff, to_json and json_array into the module table 'm' and gives the
-- Isolate's snapshot and reports their methods. Harmless when called again.
function M.install(m)
  m.diff, m.to_json, m.json_array = M.diff, M.to_json, M.json_array
  local mt = debug.getregistry()["scopelab.Isolate"]
  if type(mt) == "table" and type(mt.__index) == "table" then wrap_methods(mt.__index) end
  return m
end

return M
