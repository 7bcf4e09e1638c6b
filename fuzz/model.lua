-- fuzz/model.lua: a reference model of scopelab's handle semantics in plain Lua.
--
-- Nothing here moves or frees memory: scopes are lists of Local records, objects
-- are records, and a collection is a tiny mark over those records. The model
-- answers, for every operation of fuzz/fuzz.lua, what the real isolate must do:
-- the result, or the class of error it must raise (see ERRORS in fuzz.lua). It
-- knows exactly what the collectors promise and nothing of how they do it:
--
--   minor   young objects not reached from the roots or from any old object (the
--           remembered set holds every old object that refers to a young one, dead
--           or not) die; survivors age by one and the one whose age reaches
--           'promote_after' becomes old. Old objects are untouched.
--   major   every object not reached from the roots dies; every live young object
--           becomes old (V8 evacuates the young generation). The model assumes old
--           space never fills (the fuzzer gives it 256 MiB).
--   roots   Locals of open scopes (an escapable scope's reserved slot included),
--           strong non-empty persistent nodes, eternal handles.
--   weak    a weak node whose object dies is emptied and becomes strong-empty; its
--           callback is queued; queued callbacks run when the operation ends, in
--           the order their nodes were made weak; a callback's body is the
--           driver's (it may allocate, reset its handle, collect: see fuzz.lua).
--
-- Locals belong to the innermost handle (or escapable) scope; a seal scope owns
-- no slots but refuses creation while the level it sealed is the current one.
local M = {}
M.__index = M

-- opts: promote_after (default 2), gc_interval, gc_interval_kind ("alternate",
-- "minor", "major") as given to the isolate.
function M.new(opts)
  opts = opts or {}
  return setmetatable({
    promote_after = opts.promote_after or 2,
    objects = {},        -- every object not yet collected, in allocation order
    nobjects = 0,        -- model ids handed out
    stack = {},          -- open scopes, outermost first
    level = 0,           -- open handle/escapable scopes
    sealed_level = -1,   -- the level a seal scope refuses, or -1
    persistents = {},    -- every node ever made, deleted ones included
    eternals = {},
    probes = {},         -- user probes
    weak_order = 0,
    pending = {},        -- queued weak callbacks: node records
    callback_log = {},   -- node 'tag's, in the order callbacks ran
    minor = 0, major = 0,
  }, M)
end

-- ------------------------------------------------------------------ objects

local function new_object(m, kind, value, n)
  m.nobjects = m.nobjects + 1
  local o = { mid = m.nobjects, kind = kind, value = value, gen = "young", age = 0,
              alive = true }
  if kind == "array" then
    o.n = n
    o.elems = {}
  end
  m.objects[#m.objects + 1] = o
  return o
end

-- ------------------------------------------------------------------ scopes

-- The scope that owns new Locals (innermost handle or escapable scope), or nil.
local function owner(m)
  for i = #m.stack, 1, -1 do
    local s = m.stack[i]
    if s.kind ~= "seal" then return s end
  end
  return nil
end

-- nil when a Local may be created now, else the error class.
function M:creation_error()
  if self.level == 0 then return "noscope" end
  if self.level == self.sealed_level then return "sealed" end
  return nil
end

-- A new Local for 'o' in the innermost scope (the caller checked creation_error).
local function push(m, o)
  local s = owner(m)
  local l = { obj = o, scope = s }
  s.locals[#s.locals + 1] = l
  return l
end

-- Why Local record 'l' may not be used, or nil. 'l.foreign' marks a Local of
-- another isolate (the driver's).
function M.local_error(l)
  if l.foreign then return "foreign" end
  if not l.scope.open then return "stale" end
  return nil
end

function M:open(kind)
  local s = { kind = kind, open = true, locals = {}, escaped = false }
  if kind == "escapable" then
    local err = self:creation_error()
    if err then return nil, err end
    s.slot = push(self, nil)   -- the reserved slot belongs to the parent
  end
  if kind == "seal" then
    s.prev_sealed = self.sealed_level
    self.sealed_level = self.level
  else
    self.level = self.level + 1
  end
  self.stack[#self.stack + 1] = s
  s.depth = #self.stack
  s.level = self.level
  return s
end

-- Closing twice is harmless; closing a scope that is not the innermost is an error.
function M:close(s)
  if not s.open then return true end
  if self.stack[#self.stack] ~= s then return nil, "order" end
  self.stack[#self.stack] = nil
  s.open = false
  if s.kind == "seal" then
    self.sealed_level = s.prev_sealed
  else
    self.level = self.level - 1
  end
  return true
end

-- The binding checks, in order: escapable, open, the Local, escaped before.
function M.escape(_, s, l)
  if s.kind ~= "escapable" then return nil, "not_escapable" end
  if not s.open then return nil, "escape_closed" end
  if l then
    local err = M.local_error(l)
    if err then return nil, err end
  end
  if s.escaped then return nil, "escaped_twice" end
  s.escaped = true
  if not l then return false end        -- escapes as empty: nil
  s.slot.obj = l.obj
  return s.slot
end

function M:handles()
  local n = 0
  for _, s in ipairs(self.stack) do n = n + #s.locals end
  return n
end

function M:innermost() return self.stack[#self.stack] end

-- ------------------------------------------------------------------ values

-- Allocation: collections the real isolate ran inside it are applied first
-- ('minors', 'majors' counted by the driver from the isolate's statistics).
function M:allocate(kind, value, n, minors, majors)
  local err = self:creation_error()
  if err then return nil, err end
  for _ = 1, minors or 0 do self:collect("minor") end
  for _ = 1, majors or 0 do self:collect("major") end
  local o = new_object(self, kind, value, n)
  return push(self, o)
end

-- A new Local for an existing object (nil object: no Local, no error).
function M:new_local(o)
  if o == nil then return false end
  local err = self:creation_error()
  if err then return nil, err end
  return push(self, o)
end

-- ------------------------------------------------------------------ globals

function M:persistent(l, tag)
  local p = { obj = l and l.obj or nil, weak = false, tag = tag }
  self.persistents[#self.persistents + 1] = p
  return p
end

function M.reset(_, p, l)
  p.obj = l and l.obj or nil
  p.weak, p.cb = false, nil
end

function M:set_weak(p, cb)
  if p.obj == nil then return nil, "empty_weak" end
  self.weak_order = self.weak_order + 1
  p.weak, p.cb, p.order = true, cb, self.weak_order
  return true
end

function M.clear_weak(_, p)
  p.weak, p.cb = false, nil
end

-- eternal_get's Local is bound to the eternal slot itself (V8's Eternal::Get):
-- it makes no handle, needs no scope (a seal refuses nothing) and never goes stale.
local ETERNAL_SLOTS = { open = true, locals = {} }

function M.eternal_local(_, o)
  return { obj = o, scope = ETERNAL_SLOTS }
end

function M:eternal(l)
  self.eternals[#self.eternals + 1] = l.obj
  return #self.eternals
end

-- ------------------------------------------------------------------ collection

local function mark_from(o, marked, young_only)
  local stack = { o }                    -- explicit stack: no recursion
  while #stack > 0 do
    local x = stack[#stack]
    stack[#stack] = nil
    if x and not marked[x] and not (young_only and x.gen == "old") then
      marked[x] = true
      if x.elems then
        for i = 1, x.n do
          local e = x.elems[i]
          if e then stack[#stack + 1] = e end
        end
      end
    end
  end
end

local function roots(m, marked, young_only)
  for _, s in ipairs(m.stack) do
    for _, l in ipairs(s.locals) do
      if l.obj then mark_from(l.obj, marked, young_only) end
    end
  end
  for _, p in ipairs(m.persistents) do
    if not p.deleted and not p.weak and p.obj then mark_from(p.obj, marked, young_only) end
  end
  for _, o in ipairs(m.eternals) do mark_from(o, marked, young_only) end
end

-- One collection; its weak callbacks are queued (see run_callbacks).
function M:collect(kind)
  local marked = {}
  if kind == "minor" then
    self.minor = self.minor + 1
    roots(self, marked, true)
    for _, o in ipairs(self.objects) do       -- the remembered set, conservatively
      if o.gen == "old" and o.elems then
        for i = 1, o.n do
          local e = o.elems[i]
          if e and e.gen == "young" then mark_from(e, marked, true) end
        end
      end
    end
  else
    self.major = self.major + 1
    roots(self, marked, false)
  end
  local survivors = {}
  for _, o in ipairs(self.objects) do
    local scanned = kind == "major" or o.gen == "young"
    if scanned and not marked[o] then
      o.alive = false
    else
      if scanned then
        if kind == "major" then
          o.gen = "old"
        else
          o.age = o.age + 1
          if o.age >= self.promote_after then o.gen = "old" end
        end
      end
      survivors[#survivors + 1] = o
    end
  end
  self.objects = survivors
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.weak and p.obj and not p.obj.alive then
      p.obj, p.weak = nil, false
      if p.cb then self.pending[#self.pending + 1] = { p = p, cb = p.cb, order = p.order } end
      p.cb = nil
    end
  end
end

-- The end of an operation that collected: the queued callbacks run in the order
-- their nodes were made weak. The queue is taken first, so a callback that
-- collects queues and runs its own batch inside ('act(i, p, cb)' is the callback's
-- body, supplied by the driver; it may call back into the model). Returns how
-- many ran.
function M:run_callbacks(act)
  if #self.pending == 0 then return 0 end
  local list = self.pending
  self.pending = {}
  table.sort(list, function(a, b) return a.order < b.order end)
  for i, e in ipairs(list) do
    self.callback_log[#self.callback_log + 1] = e.p.tag
    if act then act(i, e.p, e.cb) end
  end
  return #list
end

-- Counters compared with iso:stats().
function M:persistent_count()
  local n = 0
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.obj then n = n + 1 end
  end
  return n
end

function M:weak_count()
  local n = 0
  for _, p in ipairs(self.persistents) do
    if not p.deleted and p.weak then n = n + 1 end
  end
  return n
end

return M
