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

-- Writes 'v' into 'out' (a list of pieces). The data written here are snapshots and
-- reports, a few levels deep; 'seen' refuses a cycle instead of looping forever.
local function write(v, out, seen, path)
  local t = type(v)
  if t == "nil" then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    local s, err = number_text(v)
    if not s then error(("cannot write %s as JSON (%s)"):format(path, err), 0) end
    out[#out + 1] = s
  elseif t == "string" then out[#out + 1] = string_text(v)
  elseif t == "table" then
    if seen[v] then error(("cannot write %s as JSON (a cycle)"):format(path), 0) end
    seen[v] = true
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, rawlen(v) do
        if i > 1 then out[#out + 1] = "," end
        write(rawget(v, i), out, seen, path .. "[" .. i .. "]")
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k, x in pairs(v) do
        if type(x) ~= "function" then
          if type(k) ~= "string" and math.type(k) ~= "integer" then
            error(("cannot write %s as JSON (a %s key)"):format(path, type(k)), 0)
          end
          keys[#keys + 1] = k
        end
      end
      table.sort(keys, key_order)                  -- stable output: diffable files
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = string_text(tostring(k))
        out[#out + 1] = ":"
        write(rawget(v, k), out, seen, path .. "." .. tostring(k))
      end
      out[#out + 1] = "}"
    end
    seen[v] = nil
  else
    error(("cannot write %s as JSON (a %s)"):format(path, t), 0)
  end
end

--- scopelab.to_json(v) -> string. Tables with keys 1..n become arrays, others objects
-- with sorted keys; integers stay integers; functions in tables are skipped (methods).
function M.to_json(v)
  local out = {}
  local ok, err = pcall(write, v, out, {}, "value")
  if not ok then error("bad argument #1 to 'to_json' (" .. tostring(err) .. ")", 2) end
  return table.concat(out)
end

--- Marks 't' to be written as a JSON array even when empty; returns 't'.
function M.json_array(t)
  empty_arrays[t] = true
  return t
end

-- ------------------------------------------------------------------ snapshots

local KINDS = { "integer", "number", "string", "array" }
local ROOT_KINDS = { "local", "persistent", "eternal", "remembered" }

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
    roots[#roots + 1] = ("%s %d"):format(k, (self.roots or {})[k] or 0)
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

local function check_snapshot(s, n)
  if type(s) ~= "table" or type(s.objects) ~= "table" or type(s.roots) ~= "table" then
    error(("bad argument #%d to 'diff' (snapshot expected, got %s)"):format(n,
      type(s) == "table" and "table without 'objects' and 'roots'" or type(s)), 3)
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
    roots[k] = { before = x, after = y, delta = y - x }
    if y > x then grown[#grown + 1] = k end
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
  return M.to_json({ total = self.total, groups = groups })
end

function PersistentReport.__tostring(self)
  local lines = { ("scopelab.PersistentReport: %s live, %s"):format(
    plural(self.total or 0, "persistent handle"), plural(#self, "creation site")) }
  for _, g in ipairs(self) do
    lines[#lines + 1] = ("  %6d  created at %s%s"):format(g.count, g.site or "? (from C)",
      g.weak > 0 and (" (" .. g.weak .. " weak)") or "")
  end
  return table.concat(lines, "\n")
end

--- Gives iso:persistent_report()'s list its methods. Returns it.
function M.persistent_report(t)
  if getmetatable(t) == nil then setmetatable(t, PersistentReport) end
  return t
end

-- ------------------------------------------------------------------ install

-- method table -> true once wrapped (weak keys: a table busted dropped goes away).
local wrapped = setmetatable({}, { __mode = "k" })

local function wrap_methods(methods)
  if wrapped[methods] then return end
  wrapped[methods] = true
  for name, give in pairs { snapshot = M.snapshot, handle_report = M.handle_report,
                            persistent_report = M.persistent_report } do
    local raw = methods[name]
    if type(raw) == "function" then
      methods[name] = function(...) return give(raw(...)) end
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
