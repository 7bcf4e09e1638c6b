-- SPDX-License-Identifier: MIT
-- Two-pass weak callbacks (V8's SetWeak(parameter, callback, type)):
-- p:set_weak{first_pass = f, parameter = x, type = "parameter" | "internal_fields"}.
local helper = require "helper"
local scopelab = require "scopelab"

-- A wrapper (V8's ObjectWrap) in a scope of its own: an object whose field 1
-- points to a native block, and a persistent to it made weak with 'opts'. The
-- object is garbage once this returns.
local function wrap(iso, opts, bytes)
  local s <close> = iso:handle_scope()
  local o = iso:object(2)
  local nb = iso:native_alloc(bytes or 64, "wrapped")
  o:set_aligned_pointer(1, nb)
  local p = iso:persistent(o)
  local w = iso:probe(o)
  p:set_weak(opts)
  return p, nb, w
end

-- Allocates garbage until an allocation has started a scavenge (not iso:collect).
local function allocate_until_a_scavenge(iso)
  local s <close> = iso:handle_scope()
  local before = iso:stats().minor_collections
  while iso:stats().minor_collections == before do
    local t <close> = iso:handle_scope()
    iso:integer(1)
  end
end

describe("a two-pass weak callback", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("runs its first pass during the collection, with the parameter, its handle emptied", function()
    local log = {}
    local p
    p = wrap(iso, { parameter = "the parameter", first_pass = function(info)
      log[#log + 1] = { info:parameter(), p:is_empty(), iso:stats().scope_depth }
      p:reset()
    end })
    local st = iso:collect("minor")
    iso:verify()
    assert.same({ { "the parameter", true, 0 } }, log)
    assert.equal(1, st.first_passes_run)
    assert.is_true(p:is_empty())
  end)

  it("keeps the parameter any Lua value, and the table given stays the caller's", function()
    local t = { first_pass = function(info) assert(info:parameter().x == 1) end,
                parameter = { x = 1 } }
    local p = wrap(iso, t)
    t.first_pass, t.parameter = nil, nil
    local got
    p:set_weak { first_pass = function(info) got = info:parameter(); p:reset() end,
                 parameter = 42 }
    iso:collect("minor")
    assert.equal(42, got)
  end)

  it("does not run while its object lives, across minor and major collections", function()
    local ran = false
    local s <close> = iso:handle_scope()
    local o = iso:object()
    local p = iso:persistent(o)
    p:set_weak { first_pass = function() ran = true end }
    for _ = 1, 3 do iso:collect("minor"); iso:collect("major") end
    iso:verify()
    assert.is_false(ran)
    assert.is_true(p:is_weak())
  end)

  it("gives the aligned pointers of the dying object's first two fields (internal_fields)",
     function()
    local fields
    local p, nb = wrap(iso, { type = "internal_fields", first_pass = function(info)
      fields = { info:internal_field(1), info:internal_field(2) }
      info:set_second_pass_callback(function(info2)
        fields[3] = info2:internal_field(1)
      end)
    end })
    local ok = pcall(iso.collect, iso, "minor")  -- the first pass leaves p set: raises
    assert.is_false(ok)
    assert.is_true(rawequal(nb, fields[1]))
    assert.is_nil(fields[2])
    assert.is_true(rawequal(nb, fields[3]))
    assert.is_true(p:is_empty())
  end)

  it("gives nil for the fields with type 'parameter', and refuses a third field", function()
    local got, err
    local p
    p = wrap(iso, { first_pass = function(info)
      got = info:internal_field(1)
      err = select(2, pcall(info.internal_field, info, 3))
      p:reset()
    end })
    iso:collect("minor")
    assert.is_nil(got)
    assert.equal("bad argument #2 to 'internal_field' (internal field out of bounds)", err)
  end)

  it("runs its second pass before a forced collection returns, with the whole API", function()
    local order = {}
    local p, nb
    p, nb = wrap(iso, { type = "internal_fields", parameter = "x", first_pass = function(info)
      order[#order + 1] = "first"
      p:reset()
      info:set_second_pass_callback(function(info2)
        order[#order + 1] = "second " .. info2:parameter()
        local s <close> = iso:handle_scope()      -- the whole API: scopes, allocation
        iso:integer(1)
        iso:collect("minor")
        info2:internal_field(1):free()
      end)
    end })
    iso:collect("minor")
    order[#order + 1] = "returned"
    assert.same({ "first", "second x", "returned" }, order)
    assert.is_true(nb:is_freed())
    assert.equal(0, iso:stats().pending_tasks)
    iso:verify()
  end)

  it("queues its second pass as a task after a collection an allocation started", function()
    local ran = 0
    local trig = scopelab.isolate { gc_interval = 0, young_size = 4096 }
    local p = wrap(trig, { first_pass = function(info)
      info:set_second_pass_callback(function() ran = ran + 1 end)
    end })
    p:set_weak { first_pass = function(info)
      p:reset()
      info:set_second_pass_callback(function() ran = ran + 1 end)
    end }
    allocate_until_a_scavenge(trig)
    assert.equal(0, ran)
    assert.equal(1, trig:stats().pending_tasks)
    assert.equal(1, trig:run_tasks())
    assert.equal(1, ran)
    assert.equal(0, trig:stats().pending_tasks)
    assert.equal(0, trig:run_tasks())
    trig:verify()
    trig:dispose()
  end)

  it("lets a forced collection run the second passes earlier collections queued", function()
    local trig = scopelab.isolate { gc_interval = 0, young_size = 4096 }
    local ran = false
    local p
    p = wrap(trig, { first_pass = function(info)
      p:reset()
      info:set_second_pass_callback(function() ran = true end)
    end })
    allocate_until_a_scavenge(trig)
    assert.equal(1, trig:stats().pending_tasks)
    trig:collect("minor")
    assert.is_true(ran)
    assert.equal(0, trig:stats().pending_tasks)
    trig:dispose()
  end)

  it("runs both second passes of a handle whose object died twice before either ran", function()
    local trig = scopelab.isolate { gc_interval = 0, young_size = 4096 }
    local log = {}
    local p
    local function weak(name)
      p:set_weak { first_pass = function(info)
        p:reset()
        info:set_second_pass_callback(function() log[#log + 1] = "first " .. name end)
        info:set_second_pass_callback(function() log[#log + 1] = name end)   -- replaces
      end }
    end
    p = wrap(trig, { first_pass = function() end })
    weak("a")
    allocate_until_a_scavenge(trig)     -- a's second pass waits as a task
    assert.equal(1, trig:stats().pending_tasks)
    do                                     -- the same handle, another object, weak again
      local s <close> = trig:handle_scope()
      p:reset(trig:object())
      weak("b")
    end
    trig:collect("minor")                  -- b dies; both second passes run, in order
    trig:verify()
    assert.same({ "a", "b" }, log)
    assert.equal(0, trig:stats().pending_tasks)
    assert.equal(0, trig:run_tasks())
    trig:dispose()
  end)

  it("refuses its info once its pass returned, and a second pass asking for another", function()
    local kept, err
    local p
    p = wrap(iso, { first_pass = function(info)
      kept = info
      p:reset()
      info:set_second_pass_callback(function(info2)
        err = select(2, pcall(info2.set_second_pass_callback, info2, function() end))
      end)
    end })
    iso:collect("minor")
    assert.equal("cannot 'set_second_pass_callback' now (already in the second pass)", err)
    assert.has_error(function() kept:parameter() end,
      "bad argument #1 to 'parameter' (weak callback info used after its callback returned)")
    assert.equal("scopelab.WeakCallbackInfo: (returned)", tostring(kept))
  end)

  it("refuses a malformed table", function()
    local s <close> = iso:handle_scope()
    local p = iso:persistent(iso:object())
    assert.has_error(function() p:set_weak {} end,
      "bad argument #2 to 'set_weak' (field 'first_pass' must be a function)")
    assert.has_error(function() p:set_weak { first_pass = print, typo = 1 } end,
      "bad argument #2 to 'set_weak' (unknown field 'typo')")
    assert.has_error(function() p:set_weak { first_pass = print, type = "fields" } end,
      "bad argument #2 to 'set_weak' (field 'type' must be 'parameter' or 'internal_fields')")
    assert.is_false(p:is_weak())
    local sm = iso:persistent(iso:smi(1))
    assert.has_error(function() sm:set_weak { first_pass = print } end,
      "bad argument #1 to 'set_weak' (a Smi is not a heap object)")
  end)

  it("is replaced by p:set_weak(cb), and p:reset() forgets it", function()
    local which = {}
    local p = wrap(iso, { first_pass = function() which[#which + 1] = "two-pass" end })
    p:set_weak(function() which[#which + 1] = "single" end)
    iso:collect("minor")
    assert.same({ "single" }, which)
  end)
end)

describe("a first pass", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  -- Runs 'body(info, p)' as the first pass of a wrapper dying in a forced minor
  -- collection; the pass resets its handle first.
  local function in_first_pass(body)
    local p
    p = wrap(iso, { first_pass = function(info) p:reset(); body(info, p) end })
    iso:collect("minor")
  end

  it("refuses, naming the method, whatever allocates, makes a handle or a scope, or collects",
     function()
    local outer <close> = iso:handle_scope()
    local fn = iso:func(function() end)
    local other = iso:persistent(iso:object())
    local errs = {}
    local calls = {
      integer = function() iso:integer(1) end,
      smi = function() iso:smi(1) end,
      string = function() iso:string("s") end,
      object = function() iso:object() end,
      handle_scope = function() iso:handle_scope() end,
      escapable_handle_scope = function() iso:escapable_handle_scope() end,
      persistent = function() iso:persistent() end,
      probe = function() iso:probe(fn) end,
      collect = function() iso:collect("minor") end,
      call = function() iso:call(fn, nil) end,
      run_tasks = function() iso:run_tasks() end,
      get = function() other:get() end,
      func = function() iso:func(print) end,
    }
    in_first_pass(function()
      for name, f in pairs(calls) do errs[name] = select(2, pcall(f)) end
    end)
    for name in pairs(calls) do
      assert.matches("cannot '" .. name .. "' now %(not allowed in a first%-pass weak callback%)$",
        errs[name])
    end
    assert.equal(0, iso:stats().internal_handles - 1)     -- 'func' left no record behind
  end)

  it("may reset persistents, read values, free native memory and adjust external memory",
     function()
    local outer <close> = iso:handle_scope()
    local keep = iso:string("readable")
    local other = iso:persistent(iso:object())
    local nb = iso:native_alloc(10)
    local seen
    in_first_pass(function()
      other:reset()
      nb:free()
      seen = { keep:value(), keep:kind(), iso:adjust_external_memory(-10), iso:undefined():kind(),
               iso:stats().native_blocks }
    end)
    assert.same({ "readable", "string", -10, "undefined", 1 }, seen)
    assert.is_true(other:is_empty())
    assert.is_true(nb:is_freed())
  end)

  it("that leaves its handle set fails the collection; the isolate stays usable", function()
    local p = wrap(iso, { first_pass = function() end })
    assert.has_error(function() iso:collect("minor") end,
      "Handle not reset in first callback (in 'collect')")
    assert.is_true(p:is_empty())                 -- the engine reset it
    iso:verify()
    local s <close> = iso:handle_scope()
    assert.equal(1, iso:integer(1):value())
    assert.equal("requested", iso:collect("minor").reason)
  end)

  it("that leaves its handle set fails the allocation whose collection ran it", function()
    local trig = scopelab.isolate { gc_interval = 0, young_size = 4096 }
    wrap(trig, { first_pass = function() end })
    local s <close> = trig:handle_scope()
    local err
    for i = 1, 10000 do
      local ok, e = pcall(trig.integer, trig, i)
      if not ok then err = e break end
    end
    assert.equal("Handle not reset in first callback (in 'integer')", err)
    assert.equal(2, trig:integer(2):value())     -- once only
    trig:verify()
    s:close()
    trig:dispose()
  end)

  it("counts and warns the errors of either pass, never raising them", function()
    local warnings = {}
    local w = scopelab.isolate { gc_interval = 0, warn = function(m) warnings[#warnings + 1] = m end }
    local p
    p = wrap(w, { first_pass = function(info)
      p:reset()
      info:set_second_pass_callback(function() error("in the second pass", 0) end)
      error("in the first pass", 0)
    end })
    local st = w:collect("minor")
    assert.same({ "scopelab: error in weak callback: in the first pass",
                  "scopelab: error in weak callback: in the second pass" }, warnings)
    assert.equal(2, w:stats().callback_errors)
    assert.equal(1, st.first_passes_run)
    w:dispose()
  end)

  it("is recorded in the weak log with its pass", function()
    local rec = scopelab.isolate { gc_interval = 0, record_weak = true }
    local p
    p = wrap(rec, { first_pass = function(info)
      p:reset()
      info:set_second_pass_callback(function() end)
    end })
    rec:collect("minor")
    local log = rec:weak_log()
    assert.equal(2, #log)
    assert.same({ "first", "second" }, { log[1].pass, log[2].pass })
    assert.is_true(log[1].handle == p)
    rec:dispose()
  end)
end)
