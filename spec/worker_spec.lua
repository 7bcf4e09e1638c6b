-- SPDX-License-Identifier: MIT
-- The worker-thread rule (the hook scopelab.loop runs its workers with):
-- iso:_run_as_worker(fn, ...) runs fn as if on a thread that does not own the isolate.
-- And the core's own thread check, the option check_thread.
local helper = require "helper"
local scopelab = require "scopelab"

local WORKER = "(isolate used from a worker thread)"

describe("iso:_run_as_worker", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("runs fn with its arguments and returns what it returns", function()
    local a, b = iso:_run_as_worker(function(x, y) return y, x end, 1, 2)
    assert.same({ 2, 1 }, { a, b })
  end)

  it("refuses every call that touches the heap or handles, naming it", function()
    local s <close> = iso:handle_scope()
    local h, o, a = iso:integer(1), iso:object(1), iso:array(1)
    local fn = iso:func(function() end)
    local p, w = iso:persistent(h), iso:probe(h)
    local r = iso:reference(h, 1)
    local esc = iso:escapable_handle_scope()
    local calls = {
      { "integer", function() iso:integer(1) end },
      { "smi", function() iso:smi(1) end },
      { "object", function() iso:object() end },
      { "array_of", function() iso:array_of() end },
      { "undefined", function() iso:undefined() end },
      { "external", function() iso:external(nil) end },
      { "func", function() iso:func(print) end },
      { "call", function() iso:call(fn, nil) end },
      { "value", function() h:value() end },
      { "kind", function() h:kind() end },
      { "id", function() h:id() end },
      { "is_valid", function() h:is_valid() end },
      { "in_heap", function() h:in_heap() end },
      { "__eq", function() return h == o end },
      { "get", function() a:get(1) end },
      { "set", function() o:set("k", nil) end },
      { "keys", function() o:keys() end },
      { "get_internal_field", function() o:get_internal_field(1) end },
      { "handle_scope", function() iso:handle_scope() end },
      { "escape", function() esc:escape(nil) end },
      { "close", function() esc:close() end },
      { "persistent", function() iso:persistent() end },
      { "get", function() p:get() end },
      { "reset", function() p:reset() end },
      { "set_weak", function() p:set_weak() end },
      { "delete", function() p:delete() end },
      { "ref", function() r:ref() end },
      { "probe", function() iso:probe(h) end },
      { "alive", function() w:alive() end },
      { "eternal_get", function() iso:eternal_get(1) end },
      { "collect", function() iso:collect() end },
      { "stats", function() iso:stats() end },
      { "verify", function() iso:verify() end },
      { "number_of_handles", function() iso:number_of_handles() end },
      { "handle_report", function() iso:handle_report() end },
      { "snapshot", function() iso:snapshot() end },
      { "adjust_external_memory", function() iso:adjust_external_memory(1) end },
      { "post_task", function() iso:post_task(print) end },
      { "run_tasks", function() iso:run_tasks() end },
      { "dispose", function() iso:dispose() end },
      { "_run_as_worker", function() iso:_run_as_worker(print) end },
    }
    local got = iso:_run_as_worker(function()
      local errs = {}
      for i, c in ipairs(calls) do
        local ok, err = pcall(c[2])
        errs[i] = ok and "no error" or err
      end
      return errs
    end)
    for i, c in ipairs(calls) do
      assert.matches("bad argument #%d+ to '" .. c[1] .. "' %" .. WORKER:sub(1, -2) .. "%)$", got[i])
    end
    assert.is_false(iso:is_disposed())
    esc:close()
  end)

  it("lets native blocks be allocated, read, reported and freed", function()
    local kept = iso:native_alloc(8, "from main")
    local size, report, freed = iso:_run_as_worker(function()
      local nb = iso:native_alloc(100, "from worker")
      local n = nb:size()
      nb:free()
      kept:free()
      return n, iso:native_report().blocks, kept:is_freed()
    end)
    assert.same({ 100, 0, true }, { size, report, freed })
    assert.equal(0, iso:stats().native_blocks)
  end)

  it("gives the isolate back afterwards, also when fn raises (its error object itself)", function()
    local err = {}
    local ok, got = pcall(iso._run_as_worker, iso, function() error(err) end)
    assert.is_false(ok)
    assert.is_true(rawequal(err, got))
    local s <close> = iso:handle_scope()
    assert.equal(1, iso:integer(1):value())
    iso:verify()
  end)

  it("keeps Locals made before it usable after it", function()
    local s <close> = iso:handle_scope()
    local h = iso:string("kept")
    iso:_run_as_worker(function() end)
    assert.equal("kept", h:value())
  end)

  it("says so in tostring and is_disposed", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    local a, b, c = iso:_run_as_worker(function()
      return tostring(iso), tostring(h), iso:is_disposed()
    end)
    assert.matches("^scopelab%.Isolate: 0x%x+ %(in a worker%)$", a)
    assert.equal("scopelab.Local: (isolate in a worker)", b)
    assert.is_false(c)
  end)

  it("needs a function", function()
    assert.has_error(function() iso:_run_as_worker(5) end,
      "bad argument #2 to '_run_as_worker' (function expected, got number)")
  end)
end)

describe("the option check_thread", function()
  it("is a boolean, and an isolate checked for its thread works from its own", function()
    assert.has_error(function() scopelab.isolate { check_thread = 1 } end,
      "bad argument #1 to 'isolate' (option 'check_thread' must be a boolean, got number)")
    local iso <close> = scopelab.isolate { check_thread = true, gc_interval = 0 }
    local s <close> = iso:handle_scope()
    local o = iso:object()
    o:set("k", iso:integer(1))
    local fn = iso:func(function(info) info:set_return_value(iso:smi(2)) end)
    assert.equal(2, iso:call(fn, nil):value())
    iso:collect("full")
    iso:verify()
    assert.equal(1, o:get("k"):value())
  end)
end)
