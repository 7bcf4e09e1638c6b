-- SPDX-License-Identifier: MIT
-- Chart rules of scopelab.svg that a browser shows: no tick label clipped at
-- the panel's edge, no series hidden under another that draws the same line.
local svg = require "scopelab.svg"

-- The attributes of the x tick labels of a 480 x 260 panel whose text is
-- 'content' (the row 15 px under the plot: y = 30 + 172 + 15).
local function texts(fragment, content)
  local out = {}
  for attrs, text in fragment:gmatch("<text([^>]*)>([^<]*)</text>") do
    if text == content and attrs:find(' y="217"', 1, true) then out[#out + 1] = attrs end
  end
  return out
end

-- The attributes of the series element drawn for 'name'.
local function series_attrs(fragment, name)
  return fragment:match('<polyline class="series" data%-name="' .. name .. '"([^>]*)/>')
    or fragment:match('<circle class="series" data%-name="' .. name .. '"([^>]*)/>')
end

local function line(from, to, y, step)
  local pts = {}
  for x = from, to, step or 1000 do pts[#pts + 1] = { x, y == nil and x or y } end
  return pts
end

describe("an x tick label", function()
  it("ends at the last tick when a five-digit value would cross the panel's right edge", function()
    local p = svg.panel { x = 0, y = 0, width = 480, height = 260,
      series = { { name = "n", points = line(0, 54000) } } }
    local last = texts(p, "54000")
    assert.equal(1, #last)
    -- it ends at the plot's right end (x = 466), so all of it is inside the 480 px panel
    assert.equal("466", last[1]:match(' x="([^"]+)"'))
    assert.truthy(last[1]:find('text-anchor="end"', 1, true))
  end)

  it("stays centred on its tick when it fits, as the first and middle ones do", function()
    local p = svg.panel { x = 0, y = 0, width = 480, height = 260,
      series = { { name = "n", points = line(0, 40, nil, 10) } } }
    assert.truthy(texts(p, "40")[1]:find('text-anchor="middle"', 1, true))
    assert.truthy(texts(p, "20")[1]:find('text-anchor="middle"', 1, true))
    local wide = svg.panel { x = 0, y = 0, width = 480, height = 260,
      series = { { name = "n", points = line(0, 54000) } } }
    assert.truthy(texts(wide, "0")[1]:find('text-anchor="middle"', 1, true))
    assert.truthy(texts(wide, "27000")[1]:find('text-anchor="middle"', 1, true))
  end)
end)

describe("a series that draws the same line as an earlier one", function()
  it("is dashed, so a zero line no longer hides another zero line", function()
    local p = svg.panel { series = {
      { name = "handles", points = line(0, 9000) },
      { name = "persistent", points = line(0, 9000, 0) },
      { name = "weak", points = line(0, 9000, 0) },
    } }
    assert.falsy(series_attrs(p, "handles"):find("dasharray", 1, true))
    assert.falsy(series_attrs(p, "persistent"):find("dasharray", 1, true))   -- the first stays solid
    assert.truthy(series_attrs(p, "weak"):find('stroke-dasharray="6,6" stroke-dashoffset="6"', 1, true))
  end)

  it("gives each of several twins its own part of the period, leaving a part to the first", function()
    local zero = line(0, 5000, 0)
    local dash = svg.dash_patterns {
      { name = "a", points = zero }, { name = "b", points = zero },
      { name = "rising", points = line(0, 5000) },
      { name = "c", points = zero }, { name = "d", points = zero },
    }
    assert.is_nil(dash[1])
    assert.is_nil(dash[3])
    -- period 24 = 4 twins x 6 px: b, c and d start their dash 6, 12 and 18 px in
    assert.same({ { array = "6,18", offset = 18 }, { array = "6,18", offset = 12 },
                  { array = "6,18", offset = 6 } }, { dash[2], dash[4], dash[5] })
  end)

  it("is found for flat lines at one level over one range, however many samples each has", function()
    local dash = svg.dash_patterns {
      { name = "every 1000", points = line(0, 9000, 0) },
      { name = "ends only", points = { { 0, 0 }, { 9000, 0 } } },
      { name = "shorter", points = { { 0, 0 }, { 8000, 0 } } },
      { name = "higher", points = { { 0, 1 }, { 9000, 1 } } },
    }
    assert.same({ array = "6,6", offset = 6 }, dash[2])
    assert.is_nil(dash[3])
    assert.is_nil(dash[4])
  end)

  it("is shown dashed in the legend too", function()
    local zero = line(0, 5000, 0)
    local p = svg.panel { series = { { name = "a", points = zero }, { name = "b", points = zero } } }
    assert.equal(1, select(2, p:gsub('stroke%-width="4" stroke%-dasharray="4,2"', "")))
  end)
end)
