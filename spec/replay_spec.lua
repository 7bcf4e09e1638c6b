-- SPDX-License-Identifier: MIT
-- Replayable schedules: record an isolate's event stream, replay it against a fresh one.
local scopelab = require "scopelab"
local replay = require "scopelab.replay"

-- A small program with everything that moves and dies: nested scopes, arrays, strings,
-- persistents made weak with callbacks that allocate, escapes, forced and natural
-- collections. Returns the probes and persistents it made.
local function program(iso)
  local probes = {}
  local keep = {}
  local outer <close> = iso:handle_scope()
  local list = iso:array(8)
  for i = 1, 200 do
    local s <close> = iso:handle_scope()
    local x = iso:string("item " .. i)
    if i % 25 == 0 then
      list:set(i // 25, x)
      probes[#probes + 1] = iso:probe(x)
    end
    if i % 40 == 0 then
      local p = iso:persistent(x)
      p:set_weak(function()
        local cb <close> = iso:handle_scope()
        iso:integer(i)                                 -- callbacks allocate too
      end)
      keep[#keep + 1] = p
    end
    if i % 60 == 0 then
      local e = iso:escapable_handle_scope()
      local v = e:escape(iso:number(i + 0.5))
      e:close()
      list:set(8, v)
    end
  end
  iso:collect("major")
  list:set(1, nil)
  iso:collect("full")
  return probes, keep
end

local OPTS = { young_size = 4096, gc_interval = 0, stress_compaction = true, gc_at = { 30, 90 } }

describe("a replay", function()
  it("reproduces the ids, moves and deaths of the recorded run", function()
    local iso, rec = replay.record(OPTS)
    program(iso)
    local data = rec:data()
    assert.is_true(#data.outcome.moves >= 20)
    assert.is_true(#data.outcome.deaths >= 200)
    assert.is_true(#data.outcome.ids > 200)
    local r = replay.run(rec)
    assert.is_nil(r.divergence)
    assert.is_true(r.ok)
    assert.same(data.outcome.ids, r.outcome.ids)
    assert.same(data.outcome.moves, r.outcome.moves)
    assert.same(data.outcome.deaths, r.outcome.deaths)
    assert.is_true(iso:stats().collections > 4)        -- natural and gc_at ones, not just collect()
    assert.same(iso:stats().collections, r.isolate:stats().collections)
    r.isolate:dispose()
    iso:dispose()
  end)

  it("reproduces them from a file, in a fresh process", function()
    local iso, rec = replay.record(OPTS)
    program(iso)
    local path = os.tmpname()
    rec:save(path)
    local d = rec:data()
    local p = io.popen(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
      .. "lua5.4 -e 'local r = require(\"scopelab.replay\").run(%q); "
      .. "print(r.ok, #r.outcome.ids, #r.outcome.moves, #r.outcome.deaths, r.divergence)' 2>&1"):format(path))
    local out = p:read("a"); p:close()
    os.remove(path)
    assert.equal(("true\t%d\t%d\t%d\tnil\n"):format(#d.outcome.ids, #d.outcome.moves, #d.outcome.deaths), out)
    iso:dispose()
  end)

  it("replays what weak callbacks did, in the collection that ran them", function()
    local iso, rec = replay.record { gc_interval = 0, record_weak = true }
    local p
    do
      local s <close> = iso:handle_scope()
      p = iso:persistent(iso:integer(1))
    end
    local made
    p:set_weak(function()
      local s <close> = iso:handle_scope()
      made = iso:array(2):id()
    end)
    iso:collect("minor")
    local ops = {}
    for _, ev in ipairs(rec:events()) do ops[#ops + 1] = ev.op end
    assert.same({ "handle_scope", "integer", "persistent", "__close", "set_weak", "collect",
      "callback", "handle_scope", "array", "__close", "callback_end" }, ops)
    local r = replay.run(rec)
    assert.is_true(r.ok, r.divergence)
    assert.equal(made, r.outcome.ids[#r.outcome.ids])
    assert.same({ 1, 1 }, { #r.isolate:weak_log(), r.isolate:weak_log()[1].collection })
    r.isolate:dispose(); iso:dispose()
  end)

  it("reproduces a capacity overflow with the same message and site", function()
    local iso, rec = replay.record { gc_interval = 0 }
    local s <close> = iso:handle_scope { capacity = 2 }
    iso:integer(1); iso:integer(2)
    local ok, err = pcall(function() return iso:integer(3) end)
    assert.is_false(ok)
    local site = err:match("opened at ([^,]+),")
    assert.equal(debug.getinfo(1, "S").short_src .. ":" .. (debug.getinfo(1, "l").currentline - 5), site)
    local r = replay.run(rec)
    assert.is_true(r.ok, r.divergence)
    local rep = r.isolate:handle_report()
    assert.same({ 2, 2, site }, { rep[1].capacity, rep[1].handles, rep[1].site })
    r.isolate:dispose()
  end)

  it("names the first event where a changed schedule diverges", function()
    local iso, rec = replay.record { gc_interval = 0 }
    do
      local s <close> = iso:handle_scope()
      iso:integer(1); iso:integer(2)
    end
    local d = rec:data()
    table.insert(d.events, 2, { op = "string", self = 1, args = { "extra", n = 1 } })
    local r = replay.run(d)
    assert.is_false(r.ok)
    assert.equal("event 3 (integer): result 1 has id 2, recorded id 1", r.divergence)
    r.isolate:dispose(); iso:dispose()
  end)

  it("notices a collection that ran at another event", function()
    local iso, rec = replay.record { gc_interval = 0, gc_at = { 3 } }
    do
      local s <close> = iso:handle_scope()
      for i = 1, 4 do iso:integer(i) end
    end
    local d = rec:data()
    assert.equal(1, d.events[4].gc)                     -- the 3rd allocation collected first
    d.options.gc_at = { 4 }
    local r = replay.run(d)
    assert.is_false(r.ok)
    assert.equal("event 4 (integer): in the recording collection 1 had run by its end, "
      .. "in the replay no collection ran", r.divergence)
    r.isolate:dispose(); iso:dispose()
  end)
end)

describe("a recording", function()
  it("behaves like the isolate it wraps", function()
    local iso, rec = replay.record { gc_interval = 0 }
    local s <close> = iso:handle_scope()
    local a = iso:array(2)
    a:set(1, iso:integer(5))
    assert.equal(5, a:get(1):value())
    assert.is_true(a:get(1) == a:get(1))
    assert.equal(2, #a)
    assert.equal(5, #iso)                               -- array, integer, three get(1)
    assert.truthy(tostring(a):find("^scopelab.Local: array#1"))
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(function() local v = a:get(7); return v end)
    assert.is_false(ok)
    assert.truthy(err:find("^" .. debug.getinfo(1, "S").short_src:gsub("%p", "%%%0") .. ":" .. line .. ": "), err)
    local ops = {}
    for _, ev in ipairs(rec:events()) do ops[#ops + 1] = ev.op end
    assert.same({ "handle_scope", "array", "integer", "set", "get", "get", "get", "get" }, ops)
  end)

  it("uses the module defaults, so the file says what really ran", function()
    scopelab.set_defaults { young_size = 8192, gc_interval = 0 }
    local ok, d = pcall(function()
      local iso, rec = replay.record { promote_after = 1 }
      iso:dispose()
      return rec:data()
    end)
    scopelab.set_defaults(os.getenv("SCOPELAB_STRESS") == "1"
      and { gc_interval = 7, stress_compaction = true, verify_heap = true } or nil)
    assert.is_true(ok, d)
    assert.same({ 8192, 0, 1, true }, { d.options.young_size, d.options.gc_interval,
      d.options.promote_after, d.options.record_moves })
  end)

  it("writes data only: a replay file cannot run code", function()
    assert.has_error(function()
      replay.parse('-- scopelab replay 1\n{options={}}\n{op=os.exit()}\n', "evil")
    end)
    assert.has_error(function() replay.parse("{options={}}\n", "plain") end,
      'plain is not a scopelab replay (first line must be "-- scopelab replay 1")')
  end)
end)

describe("a replay file", function()
  local HEAD = "-- scopelab replay 1\n{options={gc_interval=0}}\n"

  -- Parses under an instruction budget, so that a parser that runs the line cannot
  -- hang the suite: the budget's error then shows as the wrong message.
  local function parse(line)
    debug.sethook(function() error("the line ran for a million instructions", 0) end, "", 1000000)
    local ok, err = pcall(replay.parse, HEAD .. line .. "\n", "evil")
    debug.sethook()
    return ok, err
  end

  it("is read as data: a line that would loop forever is a syntax error", function()
    local ok, err = parse("{op=(function() while true do end end)()}")
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (col 5: unexpected '(')", err)
  end)

  it("is read as data: a line cannot call a string method", function()
    local ok, err = parse('{op=("x"):rep(3), self=1, args={n=0}}')
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (col 5: unexpected '(')", err)
    ok, err = parse('{op="integer", self=1, args={#"abc", n=1}}')
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (col 30: unexpected '#')", err)
  end)

  it("refuses an op that names a metamethod other than __close", function()
    local ok, err = parse('{op="__gc", self=1, args={n=0}}')
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (op '__gc' is not a method a recording makes)", err)
    ok, err = parse('{op=42, self=1}')
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (op must be a string, got number)", err)
  end)

  it("refuses a site line no source file has, before making a caller for it", function()
    local ok, err = parse('{op="handle_scope", self=1, args={n=0}, src="@x.lua", line=1000000000000}')
    assert.is_false(ok)
    assert.equal("evil:3: bad replay line (line must be an integer from 1 to 1000000, got 1000000000000)",
      err)
  end)

  it("replays an op naming a metamethod as a divergence, leaving the isolate usable", function()
    local r = replay.run { options = { gc_interval = 0 }, events = {
      { op = "__gc", self = 1, args = { n = 0 } },
    } }
    assert.is_false(r.ok)
    assert.equal("event 1 (__gc): op '__gc' is not a method a recording makes", r.divergence)
    assert.is_false(r.isolate:is_disposed())
    local s <close> = r.isolate:handle_scope()
    assert.equal(7, r.isolate:integer(7):value())
    s:close()
    r.isolate:dispose()
  end)

  it("keeps every value exactly through a file: integers, floats, strings with any byte", function()
    local iso, rec = replay.record { gc_interval = 0 }
    local s <close> = iso:handle_scope()
    local weird = "line\nbreak \0 nul \"quote\" \\ \127\255 tab\t"
    iso:integer(math.mininteger); iso:integer(math.maxinteger)
    iso:number(-0.0); iso:number(0.1); iso:number(1 / 0)
    iso:string(weird)
    s:close()
    local d = replay.parse(rec:text(), "mem")
    local args = {}
    for i = 2, 7 do args[#args + 1] = d.events[i].args[1] end
    assert.equal(math.mininteger, args[1]); assert.equal("integer", math.type(args[1]))
    assert.equal(math.maxinteger, args[2])
    assert.equal(-math.huge, 1 / args[3])
    assert.equal(0.1, args[4]); assert.equal(1 / 0, args[5])
    assert.equal(weird, args[6])
    local r = replay.run(d)
    assert.is_true(r.ok, r.divergence)
    r.isolate:dispose(); iso:dispose()
  end)
end)
