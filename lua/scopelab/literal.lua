-- SPDX-License-Identifier: MIT
--- scopelab.literal: plain Lua data as one line of text, read back without 'load'.
--
--   local literal = require "scopelab.literal"
--   local line = literal.encode({ op = "integer", args = { 5, n = 1 } })
--   local v = literal.decode(line)          -- a table equal to the one written
--
-- The text is a Lua table constructor (or any literal: nil, true, false, a number,
-- a string), so a replay file or a runner's result stream reads like Lua. It is
-- read by a small parser, never by 'load': a line is data only, it cannot call a
-- function, loop, index a string's metatable or name a metamethod that runs. The
-- parser keeps its own stack of open tables, so the depth of a line is bounded by
-- memory, not by the C stack.
--
-- Grammar read (a subset of Lua's, everything 'encode' writes and a bit more for
-- files edited by hand):
--   value  = 'nil' | 'true' | 'false' | number | string | table
--   number = a decimal or hexadecimal numeral with an optional '-', or exactly
--            0/0, 1/0, -1/0 (NaN and the infinities, which have no numeral)
--   string = "..." or '...' with Lua's escapes (\n \t \ddd \xhh \u{h} \z ...)
--   table  = '{' [field {(','|';') field} [','|';']] '}'
--   field  = value | name '=' value | '[' scalar ']' '=' value
-- A key is never a table, nil or NaN.

local M = {}

-- ------------------------------------------------------------------ encode

local RESERVED = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do RESERVED[w] = true end

local function scalar_text(v)
  local t = type(v)
  if t == "nil" or t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return string.format("%d", v) end
    if v ~= v then return "0/0" end
    if v == math.huge then return "1/0" end
    if v == -math.huge then return "-1/0" end
    local s = string.format("%.17g", v)             -- round-trips every double
    if not s:find("[%.eEn]") then s = s .. ".0" end  -- a float stays a float
    return s
  end
  if t == "string" then
    return (string.format("%q", v):gsub("\\\n", "\\n"))   -- one value per line
  end
  return nil
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return ta < tb end
  if ta == "boolean" then return (a and 1 or 0) < (b and 1 or 0) end
  return a < b
end

-- Writes 'v' into the list of pieces 'out'. Data written here (events, results,
-- samples) is a few levels deep; 'depth' stops a cycle with an error.
local function encode_into(v, out, depth)
  local s = scalar_text(v)
  if s then out[#out + 1] = s; return end
  if type(v) ~= "table" then error("cannot write a " .. type(v) .. " as a literal", 0) end
  if depth > 100 then error("cannot write a table nested more than 100 deep (a cycle?)", 0) end
  out[#out + 1] = "{"
  local n = rawget(v, "n")
  n = math.type(n) == "integer" and n >= 0 and n or rawlen(v)
  for i = 1, n do
    encode_into(rawget(v, i), out, depth + 1)
    out[#out + 1] = ","
  end
  local keys = {}
  for k in next, v do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)                       -- stable text: diffable files
  for _, k in ipairs(keys) do
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not RESERVED[k] then
      out[#out + 1] = k
    else
      local ks = scalar_text(k)
      if not ks then error("cannot write a " .. type(k) .. " key as a literal", 0) end
      out[#out + 1] = "[" .. ks .. "]"
    end
    out[#out + 1] = "="
    encode_into(rawget(v, k), out, depth + 1)
    out[#out + 1] = ","
  end
  out[#out + 1] = "}"
end

--- literal.encode(v) -> string: one line. A table's 'n' field, when it is a count,
-- says how many positional values to write (so the trailing nils of table.pack
-- survive); data that is not such a list should not use 'n' for anything else.
-- Other keys are written sorted. Functions, userdata, threads and cycles are errors.
function M.encode(v)
  local out = {}
  encode_into(v, out, 0)
  return table.concat(out)
end

-- ------------------------------------------------------------------ decode

local SIMPLE_ESCAPES = {
  a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v",
  ["\\"] = "\\", ['"'] = '"', ["'"] = "'", ["\n"] = "\n",
}

local Parser = {}
Parser.__index = Parser

function Parser:fail(msg, at)
  error(("col %d: %s"):format(at or self.pos, msg), 0)
end

function Parser:skip()
  self.pos = self.s:find("[^ \t\r\n]", self.pos) or (#self.s + 1)
end

function Parser:peek() return self.s:sub(self.pos, self.pos) end

-- A string literal starting at self.pos (the quote); returns it.
function Parser:string()
  local s, q = self.s, self:peek()
  local p, parts = self.pos + 1, {}
  local stop = "[\\\n\r" .. q .. "]"
  while true do
    local i = s:find(stop, p)
    if not i then self:fail("unfinished string", self.pos) end
    parts[#parts + 1] = s:sub(p, i - 1)
    local c = s:sub(i, i)
    if c == q then self.pos = i + 1; return table.concat(parts) end
    if c ~= "\\" then self:fail("unfinished string", self.pos) end
    local e = s:sub(i + 1, i + 1)
    if SIMPLE_ESCAPES[e] then parts[#parts + 1] = SIMPLE_ESCAPES[e]; p = i + 2
    elseif e == "x" then
      local h = s:match("^%x%x", i + 2)
      if not h then self:fail("hexadecimal digits expected after '\\x'", i) end
      parts[#parts + 1] = string.char(tonumber(h, 16)); p = i + 4
    elseif e == "z" then p = s:find("[^ \t\r\n\v\f]", i + 2) or (#s + 1)
    elseif e == "u" then
      local h = s:match("^{(%x+)}", i + 2)
      local code = h and #h <= 8 and tonumber(h, 16)
      if not code or code > 0x7FFFFFFF then self:fail("bad '\\u{...}' escape", i) end
      parts[#parts + 1] = utf8.char(code); p = i + 4 + #h
    elseif e:match("%d") then
      local d = s:match("^%d%d?%d?", i + 1)
      local byte = tonumber(d)
      if byte > 255 then self:fail("decimal escape too large", i) end
      parts[#parts + 1] = string.char(byte); p = i + 1 + #d
    else
      self:fail("invalid escape '\\" .. e .. "'", i)
    end
  end
end

local SPECIAL_NUMBERS = { ["0/0"] = 0 / 0, ["1/0"] = math.huge, ["-1/0"] = -math.huge }

-- A value that is not a table, at self.pos; returns ok, value.
function Parser:scalar()
  local s, pos = self.s, self.pos
  local c = s:sub(pos, pos)
  if c == '"' or c == "'" then return true, self:string() end
  local name = s:match("^[%a_][%w_]*", pos)
  if name then
    self.pos = pos + #name
    if name == "nil" then return true, nil end
    if name == "true" then return true, true end
    if name == "false" then return true, false end
    self:fail("unexpected name '" .. name .. "' (a literal holds data only)", pos)
  end
  local special = s:match("^%-?[01]/0", pos)
  if special and SPECIAL_NUMBERS[special] then
    self.pos = pos + #special
    return true, SPECIAL_NUMBERS[special]
  end
  -- a numeral: decimal or hexadecimal, with an optional exponent
  local num = s:match("^%-?0[xX][%x%.]*", pos)
  local exp = "^[pP][%+%-]?%d+"
  if not num then
    num = s:match("^%-?%d+%.?%d*", pos) or s:match("^%-?%.%d+", pos)
    exp = "^[eE][%+%-]?%d+"
  end
  if num then
    num = num .. (s:match(exp, pos + #num) or "")
    local v = not s:find("^[%w_%.]", pos + #num) and tonumber(num) or nil
    if v == nil then self:fail("malformed number near '" .. num .. "'", pos) end
    self.pos = pos + #num
    return true, v
  end
  return false
end

-- One value at self.pos, tables included, with an explicit stack of open tables.
function Parser:value()
  local stack = {}                    -- frames { t, n, key } of the open tables
  local top = nil
  while true do
    self:skip()
    local key, has_key = nil, false
    if top then
      local c = self:peek()
      if c == "}" then                -- an empty table, or a trailing separator
        self.pos = self.pos + 1
        goto close
      end
      if c == "[" then
        local at = self.pos
        self.pos = self.pos + 1
        self:skip()
        local ok, k = self:scalar()
        if not ok then self:fail("a key must be a string, number or boolean", self.pos) end
        if k == nil then self:fail("a key cannot be nil", at) end
        if k ~= k then self:fail("a key cannot be NaN", at) end
        self:skip()
        if self:peek() ~= "]" then self:fail("']' expected") end
        self.pos = self.pos + 1
        self:skip()
        if self:peek() ~= "=" then self:fail("'=' expected") end
        self.pos = self.pos + 1
        key, has_key = k, true
        self:skip()
      else
        local name, after = self.s:match("^([%a_][%w_]*)%s*()=", self.pos)
        if name and self.s:sub(after + 1, after + 1) ~= "=" then
          key, has_key = name, true
          self.pos = after + 1
          self:skip()
        end
      end
    end
    if self:peek() == "{" then
      self.pos = self.pos + 1
      if top then stack[#stack + 1] = top end
      top = { t = {}, n = 0, key = key, has_key = has_key }
      goto continue
    end
    do
      local at = self.pos
      local ok, v = self:scalar()
      if not ok then
        if at > #self.s then self:fail("unexpected end of text", at) end
        self:fail("unexpected '" .. self.s:sub(at, at) .. "'", at)
      end
      if not top then return v end
      if has_key then top.t[key] = v
      else top.n = top.n + 1; top.t[top.n] = v end
    end
    goto separator
    ::close::
    do
      local done = top
      top = table.remove(stack)
      if not top then return done.t end
      if done.has_key then top.t[done.key] = done.t
      else top.n = top.n + 1; top.t[top.n] = done.t end
    end
    ::separator::
    self:skip()
    do
      local c = self:peek()
      if c == "," or c == ";" then self.pos = self.pos + 1
      elseif c == "}" then self.pos = self.pos + 1; goto close
      else self:fail(c == "" and "'}' expected at the end of text" or ("',' or '}' expected near '" .. c .. "'")) end
    end
    ::continue::
  end
end

--- literal.decode(text) -> value. 'text' holds exactly one literal (spaces around
-- it allowed). Raises "col N: reason" for anything else.
function M.decode(text)
  if type(text) ~= "string" then
    error(("bad argument #1 to 'decode' (string expected, got %s)"):format(type(text)), 2)
  end
  local p = setmetatable({ s = text, pos = 1 }, Parser)
  local v = p:value()
  p:skip()
  if p.pos <= #text then p:fail("unexpected '" .. text:sub(p.pos, p.pos) .. "' after the value") end
  return v
end

return M
