-- SPDX-License-Identifier: MIT
--- scopelab.svg: line charts as standalone SVG text, in plain Lua.
--
-- The recorder draws its timelines with this module; it has no dependency
-- beyond Lua so `make run` works on a bare machine and the charts open in any
-- browser. A chart is built from panels; each panel has axes, a grid, one
-- polyline per series, a legend, and optional vertical event marks (the
-- collections of a timeline).
--
--   local svg = require "scopelab.svg"
--   local doc = svg.document(640, 300, {
--     svg.panel{ x = 0, y = 0, width = 640, height = 300, title = "handles",
--       series = { { name = "handles", points = { {1, 0}, {2, 5} } } },
--       events = { { x = 2, kind = "minor" } } },
--   }, "a title")

local M = {}

-- A palette that stays distinct in print and for common colour blindness.
M.palette = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b" }
M.event_colors = { minor = "#7f7f7f", major = "#d62728", mark = "#1f77b4" }

--- Escapes text for use in SVG/XML content and attribute values.
function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", {
    ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
  }))
end

-- Numbers in SVG attributes: two decimals at most, never exponent notation
-- (some viewers reject "1e+05"), "-0" folded to "0".
local function num(x)
  local s = string.format("%.2f", x):gsub("0+$", ""):gsub("%.$", "")
  if s == "-0" then s = "0" end
  return s
end
M.num = num

--- A step for about `n` grid lines up to `max`: 1, 2 or 5 times a power of ten.
function M.nice_step(max, n)
  n = n or 5
  if max ~= max or max <= 0 then return 1 end   -- NaN, zero or negative
  local raw = max / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  for _, f in ipairs({ 1, 2, 5, 10 }) do
    if raw <= f * mag then
      local step = f * mag
      if step >= 1 then step = math.floor(step + 0.5) end
      return step
    end
  end
  return 10 * mag
end

--- Axis label text: integers as integers, large values with k/M suffixes.
function M.label(v)
  local a = math.abs(v)
  if a >= 1e6 then return num(v / 1e6) .. "M" end
  if a >= 1e4 then return num(v / 1e3) .. "k" end
  if math.type(v) == "integer" or v == math.floor(v) then
    return string.format("%d", math.floor(v))
  end
  return num(v)
end

-- The extent of all points of all series, with an optional fixed y maximum
-- (panels compared side by side share one scale so a flat curve looks flat).
local function extent(series, opts)
  local xmin, xmax, ymax = math.huge, -math.huge, 0
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do
      if p[1] < xmin then xmin = p[1] end
      if p[1] > xmax then xmax = p[1] end
      if p[2] > ymax then ymax = p[2] end
    end
  end
  if xmin == math.huge then xmin, xmax = 0, 1 end
  if opts.xmin then xmin = opts.xmin end
  if opts.xmax then xmax = opts.xmax end
  if xmax <= xmin then xmax = xmin + 1 end
  if opts.ymax and opts.ymax > ymax then ymax = opts.ymax end
  if ymax <= 0 then ymax = 1 end
  return xmin, xmax, ymax
end
M.extent = function(series, opts) return extent(series, opts or {}) end

-- The width of a label in 11 px Helvetica/Arial, a little generous: digits are
-- 6.1 px wide there, and no font metrics are at hand.
local function label_width(text)
  return 6.5 * #text
end

-- For each series, the dash pattern it is drawn with: nil (solid) unless an
-- earlier series draws the very same line, which it would hide entirely (two
-- counters that stay at zero draw one line on the x axis). The n series of a
-- group share a period of 6n px: the first is solid, the k-th covers only its
-- own 6 px of each period, so every colour shows along the line.
local function dash_patterns(series)
  local key_of, groups, dash = {}, {}, {}
  for i, s in ipairs(series) do
    -- the line it draws: its points, or for a flat one its level and ends
    -- (two flat lines coincide however many samples each has)
    local parts, flat = {}, true
    for j, p in ipairs(s.points) do
      parts[j] = num(p[1]) .. "," .. num(p[2])
      flat = flat and p[2] == s.points[1][2]
    end
    local key = table.concat(parts, " ")
    if flat and #parts > 1 then key = "flat " .. parts[1] .. " " .. parts[#parts] end
    if #parts > 0 then
      key_of[i] = key
      groups[key] = (groups[key] or 0) + 1
    end
  end
  local seen = {}
  for i in ipairs(series) do
    local key = key_of[i]
    if key and groups[key] > 1 then
      local k = seen[key] or 0       -- earlier series with these points
      seen[key] = k + 1
      if k > 0 then
        local n = groups[key]
        dash[i] = { array = string.format("6,%d", 6 * (n - 1)), offset = 6 * (n - k) }
      end
    end
  end
  return dash
end
M.dash_patterns = dash_patterns

--- One chart panel as an SVG <g> fragment.
-- opts: x, y, width, height (placement), title, x_label, y_label,
-- series = { {name=, points={{x,y},...}, color=}, ... },
-- events = { {x=, kind="minor"|"major"|"mark", label=}, ... },
-- xmin, xmax, ymax (optional fixed scales), unit (appended to y tick labels).
function M.panel(opts)
  local series = opts.series or {}
  local x0, y0 = opts.x or 0, opts.y or 0
  local w, h = opts.width or 480, opts.height or 260
  local ml, mr, mt, mb = 62, 14, 30, 58       -- margins: axis labels left, legend below
  local pw, ph = w - ml - mr, h - mt - mb
  local xmin, xmax, ymax = extent(series, opts)
  local step = M.nice_step(ymax, 5)
  ymax = math.ceil(ymax / step) * step          -- the top grid line bounds the plot
  local function sx(v) return x0 + ml + (v - xmin) / (xmax - xmin) * pw end
  local function sy(v) return y0 + mt + ph - v / ymax * ph end

  local out = {}
  local function add(fmt, ...) out[#out + 1] = string.format(fmt, ...) end
  add('<g class="panel">')
  add('<rect x="%s" y="%s" width="%s" height="%s" fill="#ffffff"/>', num(x0), num(y0), num(w), num(h))
  if opts.title then
    add('<text x="%s" y="%s" font-size="14" font-weight="bold" text-anchor="middle">%s</text>',
      num(x0 + ml + pw / 2), num(y0 + 18), M.escape(opts.title))
  end
  -- grid and y labels
  local v = 0
  while v <= ymax + step / 2 do
    local yy = sy(v)
    add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e0e0e0" stroke-width="1"/>',
      num(x0 + ml), num(yy), num(x0 + ml + pw), num(yy))
    add('<text x="%s" y="%s" font-size="11" text-anchor="end" fill="#444">%s</text>',
      num(x0 + ml - 6), num(yy + 4), M.escape(M.label(v) .. (opts.unit or "")))
    v = v + step
  end
  -- x labels: the ends and the middle (the middle only when it is a whole
  -- number, or the range is not: "1.5" on a count axis reads as a bug)
  local xs = { xmin, (xmin + xmax) / 2, xmax }
  if xs[2] ~= math.floor(xs[2]) and xmin == math.floor(xmin) and xmax == math.floor(xmax) then
    table.remove(xs, 2)
  end
  for i, xv in ipairs(xs) do
    local shown = (xv == math.floor(xv)) and string.format("%d", math.floor(xv)) or num(xv)
    -- centred on its tick, except the last one when half of it would not fit in
    -- the right margin (a five-digit count was clipped at the panel's edge): that
    -- one ends at its tick
    local anchor = "middle"
    if i == #xs and label_width(shown) / 2 > mr - 2 then anchor = "end" end
    add('<text x="%s" y="%s" font-size="11" text-anchor="%s" fill="#444">%s</text>',
      num(sx(xv)), num(y0 + mt + ph + 15), anchor, shown)
  end
  if opts.x_label then
    add('<text x="%s" y="%s" font-size="11" text-anchor="middle" fill="#444">%s</text>',
      num(x0 + ml + pw / 2), num(y0 + mt + ph + 29), M.escape(opts.x_label))
  end
  if opts.y_label then
    add('<text transform="translate(%s,%s) rotate(-90)" font-size="11" text-anchor="middle" fill="#444">%s</text>',
      num(x0 + 12), num(y0 + mt + ph / 2), M.escape(opts.y_label))
  end
  -- event marks (collections): short grey ticks for minor, tall red for major,
  -- drawn under the curves so they never hide a value
  for _, e in ipairs(opts.events or {}) do
    if e.x >= xmin and e.x <= xmax then
      local color = M.event_colors[e.kind] or "#7f7f7f"
      local top = (e.kind == "major") and (y0 + mt) or (y0 + mt + ph * 0.75)
      add('<line class="event %s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1" ' ..
        'stroke-dasharray="%s"><title>%s</title></line>',
        M.escape(e.kind), num(sx(e.x)), num(top), num(sx(e.x)), num(y0 + mt + ph), color,
        e.kind == "major" and "4,2" or "2,2", M.escape(e.label or e.kind))
    end
  end
  -- axes
  add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000"/>',
    num(x0 + ml), num(y0 + mt), num(x0 + ml), num(y0 + mt + ph))
  add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000"/>',
    num(x0 + ml), num(y0 + mt + ph), num(x0 + ml + pw), num(y0 + mt + ph))
  -- series; one that an earlier one would hide is dashed (dash_patterns)
  local dash = dash_patterns(series)
  for i, s in ipairs(series) do
    local color = s.color or M.palette[(i - 1) % #M.palette + 1]
    local pts = {}
    for _, p in ipairs(s.points) do pts[#pts + 1] = num(sx(p[1])) .. "," .. num(sy(p[2])) end
    if #pts == 1 then   -- a lone sample still shows as a dot (a smaller one on a twin)
      local p = s.points[1]
      add('<circle class="series" data-name="%s" cx="%s" cy="%s" r="%s" fill="%s"/>',
        M.escape(s.name), num(sx(p[1])), num(sy(p[2])), dash[i] and "1.5" or "2.5", color)
    elseif #pts > 1 then
      local d = dash[i]
      add('<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2"%s points="%s"/>',
        M.escape(s.name), color,
        d and string.format(' stroke-dasharray="%s" stroke-dashoffset="%d"', d.array, d.offset) or "",
        table.concat(pts, " "))
    end
  end
  -- legend below the plot, one entry per series then the event kinds present
  local lx, ly = x0 + ml, y0 + h - 12
  local entries = {}
  for i, s in ipairs(series) do
    entries[#entries + 1] = { s.name, s.color or M.palette[(i - 1) % #M.palette + 1], false, dash[i] }
  end
  local kinds = {}
  for _, e in ipairs(opts.events or {}) do
    if not kinds[e.kind] then
      kinds[e.kind] = true
      entries[#entries + 1] = { e.kind .. " gc", M.event_colors[e.kind] or "#7f7f7f", true }
    end
  end
  for _, en in ipairs(entries) do
    if en[3] then
      add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="2,2"/>',
        num(lx + 6), num(ly - 9), num(lx + 6), num(ly + 2), en[2])
    elseif en[4] then   -- a dashed series: a dashed swatch
      add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="4" stroke-dasharray="4,2"/>',
        num(lx), num(ly - 3), num(lx + 12), num(ly - 3), en[2])
    else
      add('<rect x="%s" y="%s" width="12" height="4" fill="%s"/>', num(lx), num(ly - 5), en[2])
    end
    add('<text x="%s" y="%s" font-size="11" fill="#222">%s</text>', num(lx + 16), num(ly), M.escape(en[1]))
    lx = lx + 24 + 6.5 * #en[1]
  end
  add('</g>')
  return table.concat(out, "\n")
end

--- A whole SVG document from fragments (each a string, e.g. from M.panel).
function M.document(width, height, fragments, title)
  local out = {
    string.format('<?xml version="1.0" encoding="UTF-8"?>\n' ..
      '<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" ' ..
      'font-family="Helvetica, Arial, sans-serif">', num(width), num(height), num(width), num(height)),
  }
  if title then out[#out + 1] = "<title>" .. M.escape(title) .. "</title>" end
  out[#out + 1] = string.format('<rect width="%s" height="%s" fill="#ffffff"/>', num(width), num(height))
  for _, f in ipairs(fragments) do out[#out + 1] = f end
  out[#out + 1] = "</svg>\n"
  return table.concat(out, "\n")
end

return M
