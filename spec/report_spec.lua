-- SPDX-License-Identifier: MIT
-- Leak reports: handle_report, watch_handles, persistent_report.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

-- Runs 'code' in a child lua5.4 with the given flags; returns stdout, stderr.
local function child(flags, code)
  local script, err = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  local p = io.popen(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
    .. "lua5.4 %s %s 2>%s"):format(flags, script, err))
  local out = p:read("a"); p:close()
  local e = assert(io.open(err)); local errtext = e:read("a"); e:close()
  os.remove(script); os.remove(err)
  return out, errtext, script
end

describe("iso:handle_report", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("lists the open scopes with their kind, level, own handle count and opening line", function()
    local outer, s1 = iso:handle_scope(), here()
    for i = 1, 3 do iso:integer(i) end
    local esc, s2 = iso:escapable_handle_scope(), here()
    iso:integer(4)
    local seal, s3 = iso:seal_handle_scope(), here()
    local rep = iso:handle_report()
    assert.equal(3, #rep)
    -- the escapable scope's reserved slot belongs to the outer scope: 3 + 1
    assert.same({ kind = "handle", level = 1, depth = 1, handles = 4, capacity = 0,
                  escaped = false, site = s1 }, rep[1])
    assert.same({ kind = "escapable", level = 2, depth = 2, handles = 1, capacity = 0,
                  escaped = false, site = s2 }, rep[2])
    assert.same({ "seal", 0, s3 }, { rep[3].kind, rep[3].handles, rep[3].site })
    seal:close(); esc:close(); outer:close()
    assert.same({}, iso:handle_report())
  end)

  it("reads as a table of scopes", function()
    local s, site = iso:handle_scope(), here()
    iso:integer(1); iso:integer(2)
    assert.equal("scopelab.HandleReport: 1 scope open, 2 handles\n"
      .. "  1. handle    level 1       2 handles  opened at " .. site, tostring(iso:handle_report()))
    s:close()
  end)
end)

describe("iso:watch_handles", function()
  it("warns once, naming the scope and its opening line, when a scope passes the threshold", function()
    local msgs = {}
    local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    iso:watch_handles(3)
    local s <close>, site = iso:handle_scope(), here()
    for i = 1, 3 do iso:integer(i) end
    assert.equal(0, #msgs)                            -- 3 is not more than 3
    iso:integer(4)
    assert.same({ "scopelab: handle scope level 1, opened at " .. site
      .. " holds more than 3 handles" }, msgs)
    for i = 5, 50 do iso:integer(i) end
    assert.equal(1, #msgs)                            -- once, not on every handle
  end)

  it("counts each scope's own handles, not those of the scopes around it", function()
    local msgs = {}
    local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    iso:watch_handles(3)
    local outer <close>, site = iso:handle_scope(), here()
    for _ = 1, 3 do
      local inner <close> = iso:handle_scope()
      iso:integer(1); iso:integer(2)
    end
    iso:integer(3); iso:integer(4); iso:integer(5)
    assert.same({}, msgs)                             -- 6 made inside it, 3 its own
    iso:integer(6)
    assert.same({ "scopelab: handle scope level 1, opened at " .. site
      .. " holds more than 3 handles" }, msgs)
  end)

  it("warns for a later scope, and for a scope already open, at the threshold too", function()
    local msgs = {}
    local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    local outer <close> = iso:handle_scope()
    iso:integer(0)
    iso:watch_handles(2)                              -- outer holds 1 already
    iso:integer(1)
    assert.same({}, msgs)
    iso:integer(2)
    assert.equal(1, #msgs)
    for _ = 1, 2 do
      local inner <close>, site = iso:handle_scope(), here()
      iso:integer(1); iso:integer(2)
      local before = #msgs
      iso:integer(3)
      assert.equal(before + 1, #msgs)
      assert.equal("scopelab: handle scope level 2, opened at " .. site
        .. " holds more than 2 handles", msgs[#msgs])
    end
  end)

  it("is off with 0, and refuses a negative threshold", function()
    local msgs = {}
    local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    iso:watch_handles(0)
    local s <close> = iso:handle_scope()
    for i = 1, 10 do iso:integer(i) end
    assert.same({}, msgs)
    assert.has_error(function() iso:watch_handles(-1) end,
      "bad argument #2 to 'watch_handles' (threshold must be non-negative, got -1)")
  end)

  it("goes through Lua's warn when no 'warn' option is given: one line on stderr", function()
    local out, err, script = child("-W", [[
local scopelab = require "scopelab"
local iso = scopelab.isolate()
iso:watch_handles(5)
local s = iso:handle_scope()
for i = 1, 100 do iso:integer(i) end
print(iso:number_of_handles())
]])
    assert.equal("100\n", out)
    local short = script:gsub("^.*/", "")
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(1, #lines)
    assert.truthy(lines[1]:find("^Lua warning: scopelab: handle scope level 1, opened at .*"
      .. short:gsub("%p", "%%%0") .. ":4 holds more than 5 handles$"), lines[1])
  end)
end)

describe("iso:persistent_report", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("groups live persistent handles by creation line, most first, counting weak ones", function()
    local s <close> = iso:handle_scope()
    local kept, site_a, site_b = {}, nil, nil
    for i = 1, 5 do kept[#kept + 1] = iso:persistent(iso:integer(i)); site_a = here() end
    for i = 1, 2 do kept[#kept + 1] = iso:persistent(iso:integer(i)); site_b = here() end
    kept[6]:set_weak()
    local gone = iso:persistent(iso:integer(0)); local site_c = here()
    gone:reset()                                      -- empty: not live, but not deleted
    local rep = iso:persistent_report()
    assert.equal(7, rep.total)
    assert.equal(1, rep.empty)
    assert.equal(3, #rep)
    assert.same({ site = site_a, count = 5, weak = 0, empty = 0 }, rep[1])
    assert.same({ site = site_b, count = 2, weak = 1, empty = 0 }, rep[2])
    assert.same({ site = site_c, count = 0, weak = 0, empty = 1 }, rep[3])
    assert.equal("scopelab.PersistentReport: 7 persistent handles live, 1 emptied but not "
      .. "deleted, 3 creation sites\n"
      .. "       5  created at " .. site_a .. "\n"
      .. "       2  created at " .. site_b .. " (1 weak)\n"
      .. "       0  created at " .. site_c .. " (1 empty)", tostring(rep))
    assert.equal(('{"empty":1,"groups":[{"count":5,"empty":0,"site":"%s","weak":0},'
      .. '{"count":2,"empty":0,"site":"%s","weak":1},{"count":0,"empty":1,"site":"%s","weak":0}],'
      .. '"total":7}'):format(site_a, site_b, site_c), rep:json())
    gone:delete()
    assert.equal(0, iso:persistent_report().empty)
  end)

  it("counts nodes emptied but never deleted, as a napi_ref at count 0 whose object died", function()
    local refs, site = {}, nil
    do
      local s <close> = iso:handle_scope()
      for i = 1, 4 do refs[i] = iso:persistent(iso:integer(i)); site = here() end
    end
    for i = 1, 4 do refs[i]:set_weak(function(p) p:reset() end) end
    iso:collect("minor"); iso:verify()
    assert.equal(4, iso:stats().empty_persistent_handles)
    assert.equal(0, iso:stats().persistent_handles)
    local rep = iso:persistent_report()
    assert.equal(0, rep.total)
    assert.same({ { site = site, count = 0, weak = 0, empty = 4 } },
      { table.unpack(rep) })
    for i = 1, 3 do refs[i]:delete() end
    assert.equal(1, iso:stats().empty_persistent_handles)
  end)

  it("shows the forgotten Reset: the leaking line's group grows, the fixed one stays empty", function()
    local totals, kept = {}, {}
    for round = 1, 3 do
      for i = 1, 10 do
        local s <close> = iso:handle_scope()
        kept[#kept + 1] = iso:persistent(iso:integer(i))   -- never reset
        local ok = iso:persistent(iso:integer(i))
        ok:reset()
      end
      local rep = iso:persistent_report()
      totals[round] = #rep >= 1 and rep[1].count or -1
      for k = 2, #rep do assert.equal(0, rep[k].count) end   -- the fixed line: none live
    end
    assert.same({ 10, 20, 30 }, totals)
  end)
end)
