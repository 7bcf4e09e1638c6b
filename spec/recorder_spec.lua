-- SPDX-License-Identifier: MIT
-- Specs of scopelab.recorder and scopelab.svg, on a scripted stand-in for an
-- isolate (its stats() returns what the test sets), so they prove the
-- recorder's own logic whatever the core does.
local recorder = require "scopelab.recorder"
local svg = require "scopelab.svg"

local function fake_isolate()
  local iso = { st = { handles = 0, scope_level = 0, blocks = 0, young_used = 0, old_used = 0,
    persistent_handles = 0, weak_handles = 0, minor_collections = 0, major_collections = 0,
    allocations = 0 } }
  function iso:stats()
    local t = {}
    for k, v in pairs(self.st) do t[k] = v end
    return t
  end
  return iso
end

-- A well-formedness check of the XML the module writes: every tag closed in
-- order, every attribute quoted, no bare '&' or '<' in text.
local function well_formed(text)
  local body = text:gsub("^<%?xml[^>]*%?>", "")
  local stack, pos = {}, 1
  while true do
    local s, e, tag = body:find("<([^>]*)>", pos)
    local between = body:sub(pos, (s or #body + 1) - 1)
    if between:find("&[^#%w]") or between:find("&%w+[^;%w]") then
      return false, "bare & in text"
    end
    if not s then break end
    if tag:sub(1, 1) == "/" then
      local name = tag:sub(2)
      if stack[#stack] ~= name then
        return false, "closing " .. name .. " while " .. tostring(stack[#stack]) .. " is open"
      end
      stack[#stack] = nil
    else
      local name = tag:match("^([%w:_-]+)")
      if not name then return false, "bad tag <" .. tag .. ">" end
      local attrs = tag:sub(#name + 1):gsub("/$", "")
      local rest = attrs:gsub('%s+[%w:_-]+="[^"<]*"', "")
      if rest:match("%S") then return false, "unquoted attribute in <" .. tag .. ">" end
      if tag:sub(-1) ~= "/" then stack[#stack + 1] = name end
    end
    pos = e + 1
  end
  if #stack > 0 then return false, "unclosed " .. stack[#stack] end
  return true
end

-- The y pixel coordinates of a named series' polyline, in order.
local function series_ys(text, name)
  local pts = text:match('data%-name="' .. name .. '"[^>]-points="([^"]*)"')
  assert.is_string(pts, "series " .. name .. " not drawn")
  local ys = {}
  for _, y in pts:gmatch("([%d%.%-]+),([%d%.%-]+)") do ys[#ys + 1] = tonumber(y) end
  return ys
end

describe("scopelab.recorder", function()
  it("takes a sample at creation and at every mark, with the stats of that moment", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { name = "t", hook = false })
    for i = 1, 5 do
      iso.st.handles = i * 10
      rec:mark("iteration", i)
    end
    assert.are.equal(6, #rec.samples)
    assert.are.equal("start", rec.samples[1].reason)
    local marks = rec:marks("iteration")
    assert.are.equal(5, #marks)
    for i, s in ipairs(marks) do
      assert.are.equal(i * 10, s.handles)
      assert.are.equal(i, s.value)
      assert.are.equal("iteration", s.label)
    end
  end)

  it("samples after a collection and records it as an event of its kind", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { hook = false })
    iso.st.minor_collections = 2
    iso.st.young_used = 100
    rec:mark("after", 1)
    iso.st.major_collections = 1
    assert.is_true(rec:poll())
    assert.is_false(rec:poll(), "no new collection, no new sample")
    assert.are.same({ "start", "minor", "mark", "major" }, rec:series("reason"))
    assert.are.equal(2, #rec.events)
    assert.are.same({ sample = 2, kind = "minor", count = 2 }, rec.events[1])
    assert.are.same({ sample = 4, kind = "major", count = 1 }, rec.events[2])
  end)

  it("notices collections from its count hook without any mark", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { poll_every = 10 })
    assert.is_true(rec.hooked)
    for _ = 1, 1000 do iso.st.minor_collections = iso.st.minor_collections + 1 end
    rec:stop()
    assert.is_nil(debug.gethook(), "stop removes the hook")
    assert.is_true(#rec.events >= 2, "several polls saw collections")
    local total = 0
    for _, e in ipairs(rec.events) do total = total + e.count end
    assert.are.equal(1000, total, "every collection is counted in some event")
  end)

  it("writes CSV with a header and the sampled values in every row", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { hook = false })
    iso.st.handles, iso.st.old_used = 7, 4096
    rec:mark("a, quoted \"label\"", 3)
    local csv = rec:csv()
    local lines = {}
    for l in csv:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(table.concat(recorder.columns, ","), lines[1])
    assert.are.equal(3, #lines)
    -- the stand-in reports no native memory: those columns stay empty
    assert.matches('^2,[%d.]+,mark,"a, quoted ""label""",3,7,0,0,0,4096,0,0,0,0,0,,$', lines[3])
  end)

  it("names the recording of each row when several recorders share one CSV", function()
    local a = recorder.new(fake_isolate(), { name = "leak", hook = false })
    local b = recorder.new(fake_isolate(), { name = "fix", hook = false })
    local csv = recorder.csv({ a, b })
    assert.matches("^recording,sample,", csv)
    assert.matches("\nleak,1,", csv)
    assert.matches("\nfix,1,", csv)
  end)

  it("draws a well-formed SVG whose handle curve follows the sampled values", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { name = "grow <&> shrink", hook = false })
    local values = { 5, 10, 20, 20, 3 }
    for i, v in ipairs(values) do
      iso.st.handles, iso.st.allocations = v, i * 100
      rec:mark("i", i)
    end
    local text = rec:svg()
    assert.is_true(well_formed(text))
    assert.matches("grow &lt;&amp;&gt; shrink", text)
    local ys = series_ys(text, "handles")
    assert.are.equal(#rec.samples, #ys)
    -- larger values are higher on the page (smaller y); equal values equal y
    assert.is_true(ys[2] > ys[3] and ys[3] > ys[4])
    assert.are.equal(ys[4], ys[5])
    assert.is_true(ys[6] > ys[2])
  end)

  it("marks minor and major collections as ticks on the chart", function()
    local iso = fake_isolate()
    local rec = recorder.new(iso, { hook = false })
    iso.st.minor_collections = 1; rec:mark("m", 1)
    iso.st.major_collections = 1; rec:mark("m", 2)
    local text = rec:svg()
    local _, minors = text:gsub('class="event minor"', "")
    local _, majors = text:gsub('class="event major"', "")
    assert.are.equal(2, minors, "one minor tick in each of the two panels")
    assert.are.equal(2, majors)
  end)

  it("draws a native memory row only when some sample has native memory", function()
    local plain = fake_isolate()
    local rp = recorder.new(plain, { hook = false })
    rp:mark("i", 1)
    local without = rp:svg()
    assert.is_nil(without:find("native memory", 1, true))
    local iso = fake_isolate()
    iso.st.native_bytes, iso.st.external_memory = 0, 0
    local rec = recorder.new(iso, { hook = false })
    for i = 1, 3 do
      iso.st.native_bytes, iso.st.external_memory = i << 20, i << 20
      rec:mark("i", i)
    end
    local text = rec:svg()
    assert.is_true(well_formed(text))
    assert.truthy(text:find("native memory (KiB)", 1, true))
    local ys = series_ys(text, "native_bytes")
    assert.are.equal(#rec.samples, #ys)
    assert.is_true(ys[2] > ys[3] and ys[3] > ys[4], "more native memory is drawn higher")
    local height = tonumber(text:match('<svg[^>]- height="([%d.]+)"'))
    assert.is_true(height > tonumber(without:match('<svg[^>]- height="([%d.]+)"')),
      "the chart grows by the extra row")
    assert.matches("native_bytes,external_memory$", rec:csv():match("^[^\n]+"))
  end)

  it("puts recordings side by side on one scale so a flat curve stays flat", function()
    local leak, fix = fake_isolate(), fake_isolate()
    local rl = recorder.new(leak, { name = "leak", hook = false })
    local rf = recorder.new(fix, { name = "fix", hook = false })
    for i = 1, 4 do
      leak.st.handles, fix.st.handles = i * 100, 2
      rl:mark("i", i); rf:mark("i", i)
    end
    local text = recorder.svg({ rl, rf }, "leak and fix")
    assert.is_true(well_formed(text))
    local width = tonumber(text:match('<svg[^>]- width="([%d.]+)"'))
    assert.are.equal(2 * 460, width)
    -- the same value 0 maps to the same y in both panels: one scale
    local first = {}
    for pts in text:gmatch('data%-name="handles"[^>]-points="([^"]*)"') do
      first[#first + 1] = tonumber(pts:match("^[%d.]+,([%d.]+)"))
    end
    assert.are.equal(2, #first)
    assert.are.equal(first[1], first[2])
  end)

  it("refuses a non-isolate and a bad mark with Lua-style errors", function()
    assert.has_error(function() recorder.new(42) end,
      "bad argument #1 to 'recorder' (isolate expected, got number)")
    local rec = recorder.new(fake_isolate(), { hook = false })
    assert.has_error(function() rec:mark(3) end, "bad argument #1 to 'mark' (string expected, got number)")
    rec:stop()
    assert.has_error(function() rec:mark("late") end, "bad argument #1 to 'mark' (recorder is stopped)")
  end)
end)

describe("scopelab.svg", function()
  it("escapes markup in text", function()
    assert.are.equal("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;", svg.escape("a <b> & \"c\" 'd'"))
  end)

  it("chooses grid steps of 1, 2 or 5 times a power of ten", function()
    assert.are.equal(1, svg.nice_step(5, 5))
    assert.are.equal(20, svg.nice_step(100, 5))
    assert.are.equal(500, svg.nice_step(2500, 5))
    assert.are.equal(1, svg.nice_step(0, 5))
  end)

  it("writes numbers without exponents", function()
    assert.are.equal("100000", svg.num(1e5))
    assert.are.equal("0.5", svg.num(0.5))
    assert.are.equal("0", svg.num(-0.0))
  end)

  it("draws a lone sample as a dot", function()
    local frag = svg.panel{ series = { { name = "one", points = { { 1, 1 } } } } }
    assert.matches('<circle class="series" data%-name="one"', frag)
  end)
end)
