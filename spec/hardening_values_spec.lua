-- SPDX-License-Identifier: MIT
-- Hardening of the values and calls API (issue 14: objects, functions and iso:call,
-- native blocks, two-pass weak callbacks, tasks, the worker switch): what plain Lua
-- used to get wrong there (a weak callback lost by a refused set_weak, an error blaming
-- the wrong argument), each now the behaviour the API promises.
local scopelab = require "scopelab"

-- A persistent whose object dies at the next major collection.
local function dying(iso)
  local t <close> = iso:handle_scope()
  return iso:persistent(iso:object(2))
end

describe("a set_weak refused while a collection runs callbacks", function()
  local iso
  before_each(function()
    iso = scopelab.isolate()
    iso:handle_scope()                            -- closed by dispose
  end)
  after_each(function() iso:dispose() end)

  it("keeps the pending two-pass callback it would have replaced, which still runs", function()
    local p, q = dying(iso), dying(iso)
    local ran, refused = {}, nil
    p:set_weak { first_pass = function()
      p:reset()
      refused = select(2, pcall(q.set_weak, q, { first_pass = function() ran[#ran + 1] = "new" end }))
    end }
    q:set_weak { first_pass = function(info)
      ran[#ran + 1] = "q"
      q:reset()
      info:set_second_pass_callback(function() ran[#ran + 1] = "q second" end)
    end }
    iso:collect("major")                           -- no "Handle not reset in first callback"
    assert.equal("bad argument #1 to 'set_weak' (persistent handle is empty)", refused)
    assert.same({ "q", "q second" }, ran)
    assert.equal(0, iso:stats().weak_handles)
    assert.is_true(iso:verify())
  end)

  it("keeps the pending single-pass callback it would have replaced, which still runs", function()
    local p, q = dying(iso), dying(iso)
    local ran = {}
    p:set_weak(function()
      ran[#ran + 1] = "p"
      assert.has_error(function() q:set_weak(function() ran[#ran + 1] = "new" end) end,
        "bad argument #1 to 'set_weak' (persistent handle is empty)")
    end)
    q:set_weak(function() ran[#ran + 1] = "q" end)
    iso:collect("major")
    assert.same({ "p", "q" }, ran)
    assert.equal(0, iso:stats().callback_errors)
  end)
end)

describe("p:set_weak, registering its callback before the core accepts it", function()
  local iso
  before_each(function()
    iso = scopelab.isolate()
    iso:handle_scope()                            -- closed by dispose
  end)
  after_each(function() iso:dispose() end)

  it("still replaces an earlier callback, and set_weak() still drops it", function()
    local p = dying(iso)
    local ran = {}
    p:set_weak(function() ran[#ran + 1] = "old" end)
    p:set_weak { first_pass = function() ran[#ran + 1] = "new"; p:reset() end }
    local q = dying(iso)
    q:set_weak(function() ran[#ran + 1] = "cleared" end)
    q:set_weak()                                   -- weak, no callback
    iso:collect("major")
    assert.same({ "new" }, ran)
    assert.is_true(q:is_empty())
  end)
end)

describe("iso:func", function()
  it("blames argument #4 for a name Local that is not a string", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    assert.has_error(function() iso:func(function() end, nil, iso:integer(1)) end,
      "bad argument #4 to 'func' (string expected, got integer)")
    assert.equal("function", iso:func(function() end, nil, iso:string("f")):kind())
  end)
end)

describe("a task dropped near the C stack limit", function()
  it("is counted, and never leaves its function to run in a later task's place", function()
    local iso <close> = scopelab.isolate { warn = function() end }
    local function at_depth(n, f)
      if n == 0 then return f() end
      return select(2, pcall(at_depth, n - 1, f))
    end
    local strays, dropped = {}, 0
    for depth = 150, 260 do                        -- through the C stack limit
      local ran, errors = {}, iso:stats().callback_errors
      for _, name in ipairs { "A", "B" } do
        iso:post_task(function()
          if ran.closed then strays[#strays + 1] = name .. depth end
          ran[#ran + 1] = name
        end)
      end
      at_depth(depth, function() return iso:run_tasks() end)
      iso:run_tasks()                              -- what could not even start, at depth 0
      ran.closed = true
      local lost = iso:stats().callback_errors - errors
      dropped = dropped + lost
      assert.equal(2, #ran + lost)                 -- each ran, or was counted
    end
    assert.is_true(dropped > 0)
    assert.same({}, strays)                        -- no task ran in another's turn
    assert.equal(0, iso:stats().pending_tasks)
  end)
end)

describe("the info of a call whose callback let go of it", function()
  it("is never written after a collection freed it, and a kept one is refused", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local weak = setmetatable({}, { __mode = "v" })
    local function collect() collectgarbage(); collectgarbage() end
    local fn = iso:func(function(info)
      weak[1] = info
      return collect()                             -- a tail call: no frame holds 'info'
    end)
    for _ = 1, 20 do iso:call(fn, nil) end         -- under ASan: a use after free before
    collect()
    assert.is_nil(weak[1])                         -- nothing keeps an info after its call
    local kept
    local keep = iso:func(function(info) kept = info; return collect() end)
    iso:call(keep, nil)
    assert.has_error(function() kept:length() end,
      "bad argument #1 to 'length' (callback info used after its call returned)")
    assert.equal(7, iso:integer(7):value())
  end)
end)
