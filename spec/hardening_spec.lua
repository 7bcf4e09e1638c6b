-- SPDX-License-Identifier: MIT
-- Hardening of the binding (issue 13, items 1-8 and its small slips; the error
-- slips of issue 16): plain Lua that used to crash the process, corrupt the heap
-- or give a wrong answer now raises an error naming the operation, or works.
local scopelab = require "scopelab"

-- Runs 'code' (after `local scopelab = require "scopelab"`) in a child lua5.4
-- with this process's module paths and environment (the sanitizer runtime
-- included), so that a crash fails one spec instead of ending the run. Returns
-- what the child printed and whether it exited normally.
local function child(code)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write('local scopelab = require "scopelab"\n', code)
  f:close()
  local cmd = string.format("LUA_PATH=%q LUA_CPATH=%q lua5.4 %q 2>&1", package.path,
    package.cpath, script)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, how, status = p:close()
  os.remove(script)
  return out, ok and how == "exit" and status == 0
end

-- A weak persistent whose object dies at the next major collection, with 'cb'.
local function dying(iso, cb)
  local p
  do
    local t <close> = iso:handle_scope()
    p = iso:persistent(iso:integer(1))
  end
  p:set_weak(cb)
  return p
end

describe("a weak callback that closes the caller's scope inside iso:array_of", function()
  local prelude = [[
    local iso = scopelab.isolate { gc_interval = 1, gc_interval_kind = "major" }
    local outer = iso:handle_scope()
    local inner = iso:handle_scope()
    local a, b, c, d, e = iso:integer(1), iso:integer(2), iso:integer(3), iso:integer(4), iso:integer(5)
    local p
    do local t <close> = iso:handle_scope(); p = iso:persistent(iso:integer(9)) end
  ]]
  local epilogue = [[
    local ok, err = pcall(iso.array_of, iso, a, b, c, d, e)
    print(ok, err)
    print("verify", pcall(iso.verify, iso))
  ]]
  local refused = "false\tbad argument #1 to 'array_of' (a weak callback closed the scope the new "
    .. "handle was made in)\nverify\ttrue\ttrue\n"

  it("raises 'a weak callback closed the scope' as every other constructor does", function()
    local out, ok = child(prelude .. "p:set_weak(function() inner:close() end)\n" .. epilogue)
    assert.is_true(ok, out)
    assert.equal(refused, out)
  end)

  it("raises the same error, with the heap sound, when the callback reopens and fills a scope",
    function()
    local out, ok = child(prelude .. [[
      p:set_weak(function()
        inner:close()
        inner = iso:handle_scope()
        for i = 1, 8 do iso:string(("x"):rep(i)) end
      end)
    ]] .. epilogue)
    assert.is_true(ok, out)
    assert.equal(refused, out)
  end)
end)

describe("a finalizer that disposes the isolate between two core calls", function()
  -- Each call allocates Lua memory between core calls; the finalizer runs at
  -- some allocation (which one varies), and the call either finishes or raises
  -- "isolate is disposed", never touches a freed isolate.
  for _, m in ipairs { "snapshot", "persistent_report", "handle_report", "set_weak",
                       "retainers", "collect", "stats" } do
    it("makes iso:" .. m .. " (or p:set_weak) raise 'disposed', never crash", function()
      local iso = scopelab.isolate()
      local s = iso:handle_scope()
      local keep = {}
      for i = 1, 200 do keep[i] = iso:persistent(iso:integer(i)) end
      for _ = 1, 40 do keep[#keep + 1] = iso:handle_scope() end
      local p0, h = iso:persistent(iso:integer(0)), iso:integer(7)
      local calls = {
        set_weak = function() p0:set_weak(function() end) end,
        retainers = function() return iso:retainers(h) end,
      }
      local call = calls[m] or function() return iso[m](iso) end
      local err
      for _ = 1, 20000 do
        setmetatable({}, { __gc = function() iso:dispose() end })
        local ok, e = pcall(call)
        if not ok then err = e break end
      end
      assert.matches("disposed", err)
      assert.is_true(iso:is_disposed())
      s:close()
    end)
  end
end)

describe("the isolate's __gc called by hand", function()
  it("inside a weak callback run by collect is refused as dispose is, and nothing leaks", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local ok, err
    dying(iso, function() ok, err = pcall(getmetatable(iso).__gc, iso) end)
    iso:collect("major")
    assert.is_false(ok)
    assert.matches("^cannot '__gc' now %(", err)
    assert.is_false(iso:is_disposed())           -- the isolate was not forgotten (a leak)
    assert.equal(2, iso:integer(2):value())
    assert.is_true(iso:verify())
  end)

  it("inside a weak callback run by an allocation is refused, and the allocation succeeds",
    function()
    local iso <close> = scopelab.isolate { gc_interval = 1, gc_interval_kind = "major" }
    local s <close> = iso:handle_scope()
    local ok
    dying(iso, function() ok = pcall(getmetatable(iso).__gc, iso) end)
    assert.equal(2, iso:integer(2):value())
    assert.is_false(ok)
    assert.is_false(iso:is_disposed())
  end)

  it("outside callbacks disposes the isolate, as dispose does", function()
    local iso = scopelab.isolate()
    getmetatable(iso).__gc(iso)
    assert.is_true(iso:is_disposed())
  end)
end)

describe("a retaining path", function()
  local iso, path
  before_each(function()
    iso = scopelab.isolate()
    iso:handle_scope()                           -- closed by dispose
    local a = iso:array(1)
    local w
    do
      local t <close> = iso:handle_scope()
      a:set(1, iso:integer(5))
      w = iso:probe(a:get(1))                    -- reachable only through the array now
    end
    path = iso:retainers(w)
  end)
  after_each(function() iso:dispose() end)

  it("prints as before when untouched", function()
    assert.matches("^local %(scope 1, opened at .*%) %-> array#%d+%[1%] %-> integer#%d+$", tostring(path))
  end)

  it("whose fields a user replaced is refused by __tostring, never read as what it is not", function()
    local forged = {
      { "steps", "abc", "'steps' is not a table" },
      { "steps", { "x" }, "a step is not a table" },
      { "steps", { { kind = 5, id = 1 } }, "a step has no 'kind'" },
      { "steps", { { kind = "array", id = "one" } }, "a step has no 'id'" },
      { "root", 5, "'root' is not a table" },
      { "root", { kind = {} }, "its root has no 'kind'" },
    }
    for _, f in ipairs(forged) do
      local saved = path[f[1]]
      path[f[1]] = f[2]
      assert.has_error(function() return tostring(path) end,
        "bad argument #1 to '__tostring' (malformed retaining path: " .. f[3] .. ")")
      path[f[1]] = saved
    end
  end)
end)

describe("the isolate under the debug library", function()
  it("survives any user value replaced by a number: sites, weak callbacks and logs start anew",
    function()
    for uv = 1, 7 do
      local iso <close> = scopelab.isolate { record_weak = true }
      debug.setuservalue(iso, 42, uv)
      local s <close> = iso:handle_scope()
      local h = iso:integer(1)
      local ran = false
      dying(iso, function() ran = true end)
      iso:collect("major")
      assert.equal(1, h:value())
      assert.is_string(tostring(s))
      assert.is_table(iso:weak_log())
      assert.is_true(iso:verify())
      assert.is_true(ran, "user value " .. uv)
      assert.is_false(iso:is_disposed())
    end
  end)

  it("counts a weak callback it cannot reach once the registry's isolate map is replaced",
    function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local ran = false
    dying(iso, function() ran = true end)
    local reg = debug.getregistry()
    local saved = reg["scopelab.isolates"]
    reg["scopelab.isolates"] = 42
    local st = iso:collect("major")
    reg["scopelab.isolates"] = saved
    assert.is_false(ran)
    assert.equal(1, st.callback_errors)
    local other <close> = scopelab.isolate()   -- the module still makes isolates
    local t <close> = other:handle_scope()
    assert.equal(3, other:integer(3):value())
  end)

  it("frees an isolate whose metatable was removed", function()
    local statm = io.open("/proc/self/statm")
    if not statm then return end                   -- no /proc: nothing to measure with
    statm:close()
    local function vm()
      local f = assert(io.open("/proc/self/statm"))
      local pages = f:read("n")
      f:close()
      return pages * 4096
    end
    collectgarbage(); collectgarbage()
    local before = vm()
    for _ = 1, 8 do                                -- each reserves ~260 MiB (old space)
      debug.setmetatable(scopelab.isolate(), nil)
    end
    collectgarbage(); collectgarbage(); collectgarbage()
    assert.is_true(vm() - before < 200 * 1024 * 1024, "isolates leaked")
  end)
end)

describe("a probe of another isolate", function()
  it("is refused by retainers as Locals and persistents are", function()
    local a <close> = scopelab.isolate()
    local b <close> = scopelab.isolate()
    local sa <close> = a:handle_scope()
    local sb <close> = b:handle_scope()
    a:integer(1)
    local w = b:probe(b:integer(1))
    assert.has_error(function() a:retainers(w) end,
      "bad argument #2 to 'retainers' (handle from another isolate)")
  end)
end)

describe("a weak callback at the Lua stack limit", function()
  it("is run, or counted in callback_errors and warned, never dropped silently", function()
    local warnings = 0
    local iso <close> = scopelab.isolate { warn = function() warnings = warnings + 1 end }
    local s <close> = iso:handle_scope()
    local big = {}
    for i = 1, 1000000 do big[i] = false end
    local function collect_at(n)                 -- collects with n values on the stack
      -- luacheck: push ignore 212 (the varargs are there only to fill the stack)
      return pcall(function() (function(...) iso:collect("major") end)(table.unpack(big, 1, n)) end)
      -- luacheck: pop
    end
    local silent, counted, tried = 0, 0, 0
    for n = 1000000, 990000, -3 do             -- from past the limit down, 100 depths that run
      local ran = false
      local p = dying(iso, function() ran = true end)
      local e0 = iso:stats().callback_errors
      if collect_at(n) then
        tried = tried + 1
        if not ran then
          if iso:stats().callback_errors > e0 then counted = counted + 1 else silent = silent + 1 end
        end
        if tried == 100 then break end
      end
      p:delete()
    end
    assert.equal(0, silent)
    assert.equal(counted, warnings)
    assert.is_true(iso:verify())
  end)
end)

describe("a reference count", function()
  it("refuses to overflow on ref()", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local r = iso:reference(iso:integer(1), math.maxinteger)
    assert.has_error(function() r:ref() end,
      "bad argument #1 to 'ref' (reference count would overflow)")
    assert.equal(math.maxinteger, r:count())
    assert.equal(math.maxinteger - 1, r:unref())
  end)
end)

describe("isolate options", function()
  it("sorts gc_at and drops repeats, so a count given twice collects once", function()
    local w <close> = scopelab.isolate { gc_at = { 5, 3, 5, 3 }, gc_interval = 0 }
    local s <close> = w:handle_scope()
    for i = 1, 2 do w:integer(i) end
    assert.equal(0, w:stats().collections)
    w:integer(3)
    assert.equal(1, w:stats().collections)
    for i = 4, 20 do w:integer(i) end
    assert.equal(2, w:stats().collections)
  end)

  it("refuses numeric strings where integers are documented", function()
    assert.has_error(function() scopelab.isolate { young_size = "8192" } end,
      "bad argument #1 to 'isolate' (option 'young_size' must be an integer in 0.."
      .. math.maxinteger .. ", got string)")
    assert.has_error(function() scopelab.isolate { gc_at = { "5" } } end,
      "bad argument #1 to 'isolate' (option 'gc_at' must be a list of positive integers (bad element 1))")
    local iso <close> = scopelab.isolate()
    assert.has_error(function() iso:handle_scope { capacity = "8" } end,
      "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer, got string)")
  end)

  it("says NaN, or the number, of a number that is not a valid integer", function()
    assert.has_error(function() scopelab.isolate { block_size = 0 / 0 } end,
      "bad argument #1 to 'isolate' (option 'block_size' must be an integer in 0..2147483647, got NaN)")
    assert.has_error(function() scopelab.isolate { block_size = 2.5 } end,
      "bad argument #1 to 'isolate' (option 'block_size' must be an integer in 0..2147483647, got 2.5)")
    assert.has_error(function() scopelab.isolate { block_size = -3 } end,
      "bad argument #1 to 'isolate' (option 'block_size' must be an integer in 0..2147483647, got -3)")
  end)
end)

describe("the 'warn' function", function()
  it("disposing the isolate makes the call that warned fail instead of returning a dead Local",
    function()
    local iso
    iso = scopelab.isolate { warn = function() iso:dispose() end }
    local s = iso:handle_scope()
    iso:watch_handles(1)
    iso:integer(1)
    assert.has_error(function() iso:integer(2) end,
      "bad argument #1 to 'integer' (isolate is disposed)")
    assert.is_true(iso:is_disposed())
    s:close()
  end)
end)

describe("error messages", function()
  local iso
  before_each(function() iso = scopelab.isolate(); iso:handle_scope() end)
  after_each(function() iso:dispose() end)

  it("give a type error for a collection kind that is not a string", function()
    assert.has_error(function() iso:collect(1) end,
      "bad argument #2 to 'collect' (string expected, got number)")
  end)

  it("name an unknown collection kind without nested parentheses", function()
    assert.has_error(function() iso:collect("medium") end,
      "bad argument #2 to 'collect' (invalid kind 'medium', expected 'minor', 'major' or 'full')")
  end)

  it("say what a non-array is when an array is expected", function()
    local str = iso:string("abc")
    assert.has_error(function() return #str end, "bad argument #1 to '__len' (array expected, got string)")
    assert.has_error(function() str:unpack() end, "bad argument #1 to 'unpack' (array expected, got string)")
    assert.has_error(function() iso:number(1.5):get(1) end,
      "bad argument #1 to 'get' (array expected, got number)")
  end)
end)
