-- SPDX-License-Identifier: MIT
-- Capacity-checked scopes (JNI's PushLocalFrame(capacity) under CheckJNI).
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("a capacity-checked handle scope", function()
  local iso, outer
  before_each(function()
    iso = scopelab.isolate { gc_interval = 0 }
    outer = iso:handle_scope()
  end)
  after_each(function()
    outer:close()                                     -- every test closes its own scopes
    iso:dispose()
  end)

  it("takes exactly n handles", function()
    local s <close> = iso:handle_scope { capacity = 4 }
    for i = 1, 4 do iso:integer(i) end
    assert.equal(4, s:handles())
  end)

  it("refuses the (n+1)-th handle with an error naming the scope and its opening line", function()
    local s <close>, site = iso:handle_scope { capacity = 3 }, here()
    iso:integer(1); iso:string("two"); iso:array(3)
    local ok, err = pcall(iso.integer, iso, 4)
    assert.is_false(ok)
    assert.equal(("handle scope full in 'integer' (level 2, opened at %s, capacity 3)"):format(site), err)
    assert.equal(3, s:handles())                      -- the refused handle was not made
    assert.equal(3, iso:number_of_handles())
  end)

  it("refuses it at the same count every time: the overflow is deterministic", function()
    local counts = {}
    for run = 1, 3 do
      local s <close> = iso:handle_scope { capacity = 5 }
      local made = 0
      while pcall(iso.integer, iso, made) do made = made + 1 end
      counts[run] = made
    end
    assert.same({ 5, 5, 5 }, counts)
  end)

  it("counts every call that makes a handle, each naming itself", function()
    local p
    do
      local s <close> = iso:handle_scope()
      local list = iso:array(1)
      list:set(1, iso:integer(9))
      p = iso:persistent(list)
    end
    local index = iso:eternal(iso:integer(1))
    local s <close>, site = iso:handle_scope { capacity = 1 }, here()
    local list = p:get()
    local tail = (" (level 2, opened at %s, capacity 1)"):format(site)
    assert.has_error(function() return p:get() end, "handle scope full in 'get'" .. tail)
    assert.has_error(function() return list:get(1) end, "handle scope full in 'get'" .. tail)
    -- an eternal's Local is bound to its own slot (V8's Eternal::Get): no handle
    assert.equal(1, iso:eternal_get(index):value())
    assert.has_error(function() return iso:number(1.5) end, "handle scope full in 'number'" .. tail)
    p:delete()
  end)

  it("leaves handles made in inner scopes to those scopes", function()
    local s <close> = iso:handle_scope { capacity = 2 }
    iso:integer(1)
    do
      local inner <close> = iso:handle_scope()
      for i = 1, 10 do iso:integer(i) end
    end
    local esc = iso:escapable_handle_scope()          -- its slot in s: the 2nd handle
    local v = esc:escape(iso:integer(5))
    esc:close()
    assert.equal(5, v:value())
    assert.equal(2, s:handles())
    assert.has_error(function() iso:integer(3) end)
  end)

  it("shows its capacity in the handle report", function()
    local s <close>, site = iso:handle_scope { capacity = 7 }, here()
    iso:integer(1)
    local rep = iso:handle_report()
    assert.same({ 7, 1, site }, { rep[2].capacity, rep[2].handles, rep[2].site })
    assert.truthy(tostring(rep):find("(capacity 7)", 1, true))
  end)

  it("refuses a capacity that is not a positive integer", function()
    for _, bad in ipairs { 0, -1, 1.5 } do
      assert.has_error(function() iso:handle_scope { capacity = bad } end,
        "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer)")
    end
    for _, bad in ipairs { "many", "8" } do         -- strict: a numeric string is a string
      assert.has_error(function() iso:handle_scope { capacity = bad } end,
        "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer, got string)")
    end
    assert.has_error(function() iso:handle_scope(3) end,
      "bad argument #2 to 'handle_scope' (table expected, got number)")
  end)

  it("can be reopened after an overflow: the isolate is left consistent", function()
    do
      local s <close> = iso:handle_scope { capacity = 1 }
      iso:integer(1)
      assert.is_false(pcall(iso.integer, iso, 2))
    end
    assert.equal(0, iso:number_of_handles())
    assert.is_true(iso:verify())
    local s <close> = iso:handle_scope { capacity = 1 }
    assert.equal(1, iso:integer(1):value())
  end)
end)
