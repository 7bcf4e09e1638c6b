-- SPDX-License-Identifier: MIT
-- Functions and calls (V8's FunctionTemplate callbacks and FunctionCallbackInfo):
-- iso:func(callback [, data [, name]]), iso:call(fn, receiver, ...).
local helper = require "helper"

describe("iso:call", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("makes a Local of kind 'function'", function()
    local s <close> = iso:handle_scope()
    local fn = iso:func(function() end)
    assert.equal("function", fn:kind())
    assert.equal(1, iso:number_of_handles())
    assert.equal("function", iso:func(function() end, nil, "named"):kind())
    assert.equal(3, iso:number_of_handles())        -- the name is a string of this scope
    assert.equal("function", iso:func(function() end, nil, iso:string("given")):kind())
  end)

  it("gives the callback this, the arguments (1-based) and data", function()
    local s <close> = iso:handle_scope()
    local seen
    local fn = iso:func(function(info)
      seen = { info:length(), info:this():get("tag"):value(), info:arg(1):value(),
               info:arg(2):value(), info:arg(3):kind(), info:data():value(),
               rawequal(info:isolate(), iso) }
    end, iso:string("the data"))
    local recv = iso:object()
    recv:set("tag", iso:string("receiver"))
    iso:call(fn, recv, iso:smi(1), iso:string("two"))
    assert.same({ 2, "receiver", 1, "two", "undefined", "the data", true }, seen)
  end)

  it("reads a missing receiver, argument and data as undefined", function()
    local s <close> = iso:handle_scope()
    local kinds
    local fn = iso:func(function(info)
      kinds = { info:this():kind(), info:arg(1):kind(), info:data():kind(), info:arg(5):kind() }
    end)
    iso:call(fn, nil, nil)
    assert.same({ "undefined", "undefined", "undefined", "undefined" }, kinds)
  end)

  it("returns the value the callback set as one new Local, undefined if none", function()
    local s <close> = iso:handle_scope()
    local fn = iso:func(function(info)
      local sum = 0
      for i = 1, info:length() do sum = sum + info:arg(i):value() end
      info:set_return_value(iso:integer(sum))
    end)
    local before = iso:number_of_handles()
    local r = iso:call(fn, nil, iso:smi(1), iso:smi(2), iso:smi(39))
    assert.equal(42, r:value())
    assert.equal(before + 1 + 3, iso:number_of_handles())    -- the result and the 3 Smis
    assert.equal("undefined", iso:call(iso:func(function() end), nil):kind())
    local last = iso:func(function(info)
      info:set_return_value(iso:smi(1))
      info:set_return_value(nil)                 -- the last one set wins: undefined
    end)
    assert.equal("undefined", iso:call(last, nil):kind())
  end)

  it("opens a HandleScope around the callback: its Locals die on return", function()
    local s <close> = iso:handle_scope()
    local probes, inner = {}, nil
    local fn = iso:func(function(info)
      for i = 1, 50 do probes[i] = iso:probe(iso:integer(i)) end
      inner = iso:integer(0)
      assert.equal(50 + 1 + 1, iso:number_of_handles() - 1)    -- the caller's fn, result slot
      info:set_return_value(inner)
    end)
    local r = iso:call(fn, nil)
    assert.equal(2, iso:number_of_handles())                  -- fn and the result
    assert.is_false(inner:is_valid())
    iso:collect("minor")
    iso:verify()
    for i = 1, 50 do assert.collected(probes[i]) end
    assert.equal(0, r:value())                                 -- the value lived on
  end)

  it("leaks nothing over 10^4 calls, where the same body with no scope of its own leaks",
     function()
    local s <close> = iso:handle_scope()
    local body = function() iso:integer(1); iso:string("x") end
    local fn = iso:func(body)
    for _ = 1, 10000 do iso:call(fn, nil) end
    assert.equal(1 + 10000, iso:number_of_handles())          -- fn and one result per call
    local t <close> = iso:handle_scope()
    for _ = 1, 10000 do body() end
    assert.equal(1 + 10000 + 20000, iso:number_of_handles())
  end)

  it("keeps the receiver and the arguments alive while the callback collects", function()
    local s <close> = iso:handle_scope()
    local fn = iso:func(function(info)
      iso:collect("minor")
      iso:collect("major")
      iso:verify()
      info:set_return_value(info:arg(1))
    end)
    local r
    do
      local t <close> = iso:escapable_handle_scope()
      r = t:escape(iso:call(fn, nil, iso:string("passed")))
    end
    assert.equal("passed", r:value())
  end)

  it("propagates the callback's error object itself, closing the implicit scope", function()
    local s <close> = iso:handle_scope()
    local err = { code = 7 }
    local fn = iso:func(function()
      iso:integer(1)
      local leaked = iso:handle_scope()                          -- left open by the error
      iso:integer(2)
      assert(leaked)
      error(err)
    end)
    local ok, got = pcall(iso.call, iso, fn, nil)
    assert.is_false(ok)
    assert.is_true(rawequal(err, got))
    assert.equal(1, iso:number_of_handles())
    assert.equal(1, iso:stats().scope_depth)
    local ok2, msg = pcall(iso.call, iso, iso:func(function() error("boom") end), nil)
    assert.is_false(ok2)
    assert.matches("call_spec%.lua:%d+: boom$", msg)
    assert.equal(5, iso:smi(5):value())                          -- the isolate is usable
  end)

  it("nests: a callback may call another function", function()
    local s <close> = iso:handle_scope()
    local depth = {}
    local inner = iso:func(function(info)
      depth[#depth + 1] = #iso:handle_report()
      info:set_return_value(iso:integer(info:arg(1):value() * 2))
    end)
    local outer = iso:func(function(info)
      depth[#depth + 1] = #iso:handle_report()
      local r = iso:call(inner, nil, info:arg(1))
      info:set_return_value(iso:integer(r:value() + 1))
    end)
    assert.equal(21, iso:call(outer, nil, iso:smi(10)):value())
    assert.same({ 2, 3 }, depth)
    assert.equal(1, iso:stats().scope_depth)
  end)

  it("is refused before the callback runs with no scope open, or under a seal", function()
    local ran = false
    local idx
    do
      local s <close> = iso:handle_scope()
      idx = iso:eternal(iso:func(function() ran = true end))
    end
    local fn = iso:eternal_get(idx)
    assert.has_error(function() iso:call(fn, nil) end,
      "cannot create a handle in 'call' (no handle scope is open)")
    local s <close> = iso:handle_scope()
    local seal <close> = iso:seal_handle_scope()
    local ok, err = pcall(iso.call, iso, fn, nil)
    assert.is_false(ok)
    assert.matches("cannot create a handle in 'call' %(the innermost scope is a seal scope", err)
    assert.is_false(ran)
  end)

  it("refuses the info once its call returned", function()
    local s <close> = iso:handle_scope()
    local kept
    iso:call(iso:func(function(info) kept = info end), nil)
    assert.has_error(function() kept:this() end,
      "bad argument #1 to 'this' (callback info used after its call returned)")
    assert.has_error(function() kept:set_return_value(nil) end,
      "bad argument #1 to 'set_return_value' (callback info used after its call returned)")
    assert.equal("scopelab.CallbackInfo: (returned)", tostring(kept))
  end)

  it("makes the frame's Locals stale after the call", function()
    local s <close> = iso:handle_scope()
    local arg
    iso:call(iso:func(function(info) arg = info:arg(1) end), nil, iso:smi(1))
    assert.is_false(arg:is_valid())
    local ok, err = pcall(arg.value, arg)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'value' %(handle from a closed scope: level 2, opened at "
      .. "spec/call_spec%.lua:%d+%)", err)
  end)

  it("raises when the callback leaves a scope open or closes the caller's", function()
    local s <close> = iso:handle_scope()
    local open = iso:func(function() iso:handle_scope() end)
    assert.has_error(function() iso:call(open, nil) end,
      "error in 'call' (the callback left 1 scope open)")
    assert.equal(1, iso:stats().scope_depth)
    local t = iso:handle_scope()
    local closer = iso:func(function()              -- as an error unwinding past t would
      getmetatable(t).__close(t, "unwound")
    end)
    assert.has_error(function() iso:call(closer, nil) end,
      "error in 'call' (the callback closed the HandleScope the call opened for it)")
    assert.equal(1, iso:stats().scope_depth)
    assert.is_false(t:is_open())
    assert.equal("scopelab.Local: smi 1 (scope 1, live)", tostring(iso:smi(1)))
  end)

  it("refuses what is not a function, and arguments that are not Locals", function()
    local s <close> = iso:handle_scope()
    local fn = iso:func(function() end)
    assert.has_error(function() iso:call(iso:object(), nil) end,
      "bad argument #2 to 'call' (function expected, got object)")
    assert.has_error(function() iso:call(fn, nil, 5) end,
      "bad argument #4 to 'call' (scopelab.Local expected, got number)")
    assert.has_error(function() iso:call(fn, "recv") end,
      "bad argument #3 to 'call' (scopelab.Local expected, got string)")
    assert.has_error(function() iso:func("f") end,
      "bad argument #2 to 'func' (function expected, got string)")
    local stale
    do local t <close> = iso:handle_scope(); stale = iso:smi(1) end
    local ok, err = pcall(iso.call, iso, fn, nil, iso:smi(0), stale)
    assert.is_false(ok)
    assert.matches("bad argument #5 to 'call' %(handle from a closed scope", err)
    local info_arg = iso:func(function(info) info:arg(0) end)
    assert.has_error(function() iso:call(info_arg, nil) end,
      "bad argument #2 to 'arg' (index 0 out of range (arguments are numbered from 1))")
  end)
end)

describe("a function's Lua callback", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("lives exactly as long as its function object", function()
    local held = setmetatable({}, { __mode = "k" })
    local fn_probe
    do
      local s <close> = iso:handle_scope()
      local cb = function() end
      held[cb] = true
      fn_probe = iso:probe(iso:func(cb))
    end
    collectgarbage(); collectgarbage()
    assert.is_not_nil(next(held))                 -- the function object still exists
    iso:collect("full")
    iso:verify()
    assert.collected(fn_probe)
    collectgarbage(); collectgarbage()
    assert.is_nil(next(held))
  end)

  it("is kept by a binding-internal handle counted apart from the user's", function()
    local s <close> = iso:handle_scope()
    local f1 = iso:func(function() end)
    iso:func(function() end)
    local st = iso:stats()
    assert.equal(2, st.internal_handles)
    assert.equal(0, st.persistent_handles)
    assert.equal(0, st.weak_handles)
    assert.equal(0, st.probes)
    assert.equal(0, iso:persistent_report().total)
    iso:probe(f1)
    assert.equal(1, iso:stats().probes)
    s:close()
    iso:collect("full")
    assert.equal(0, iso:stats().internal_handles)
  end)

  it("keeps the function's data alive, which a retaining path names", function()
    local s <close> = iso:handle_scope()
    local w
    local fn
    do
      local t <close> = iso:escapable_handle_scope()
      local data = iso:string("data")
      w = iso:probe(data)
      fn = t:escape(iso:func(function() end, data))
    end
    iso:collect("full")
    iso:verify()
    assert.alive(w)
    assert.matches("^local %(scope 1, opened at [^)]+%) %-> function#%d+%[data%] %-> string#%d+$",
      tostring(iso:retainers(w)))
    assert(fn)
  end)
end)
