-- SPDX-License-Identifier: MIT
-- readme_spec.lua: the README's Lua examples run, and print what their comments say.
--
-- Each ```lua block of README.md that is a script (not a spec: no describe/it) runs in
-- a fresh environment with its own 'print'. A line `print(...) --> a b ...` promises
-- what that call prints: its tab-separated values, compared with the words after the
-- arrow (the words past them are a note: `--> 1104 (1024 + ...)` checks "1104").
-- Every print of an example carries a promise, so none goes unchecked.

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/.."

local function lua_blocks(text)
  local blocks = {}
  for body in text:gmatch("```lua\n(.-)```") do
    if not body:find("%f[%w_]it%(") and not body:find("%f[%w_]describe%(") then
      blocks[#blocks + 1] = body
    end
  end
  return blocks
end

-- The words each commented print promises, in the order the prints appear.
local function promises(body)
  local list = {}
  for line in body:gmatch("[^\n]+") do
    local words = line:match("print%b().-%-%->%s*(.-)%s*$")
    if words then
      local w = {}
      for word in words:gmatch("%S+") do w[#w + 1] = word end
      list[#list + 1] = { line = line, words = w }
    end
  end
  return list
end

-- Runs one block; returns what each print call printed, as lists of strings.
local function run(body, name)
  local printed = {}
  local env = setmetatable({}, { __index = _G })
  env.print = function(...)
    local out = {}
    for i = 1, select("#", ...) do out[i] = tostring((select(i, ...))) end
    printed[#printed + 1] = out
  end
  local chunk = assert(load(body, "=" .. name, "t", env))
  chunk()
  return printed
end

describe("README.md", function()
  local text = assert(io.open(ROOT .. "/README.md")):read("a")
  local blocks = lua_blocks(text)

  it("has Lua examples to check", function()
    assert.is_true(#blocks >= 2, "README.md: expected at least two Lua scripts")
  end)

  for i, body in ipairs(blocks) do
    local first = body:match("[^\n]*[^\n%s][^\n]*") or "?"
    it(("example %d runs and prints what it promises (%s)"):format(i, first), function()
      local want = promises(body)
      local got = run(body, "README.md example " .. i)
      assert.equal(#want, #got, ("README.md example %d: %d prints promised, %d printed"
        .. " (give every print a '--> ...' comment)"):format(i, #want, #got))
      for k, p in ipairs(want) do
        local out = got[k]
        local same = #out >= 1 and #out <= #p.words
        for j = 1, #out do same = same and out[j] == p.words[j] end
        assert.is_true(same, ("README.md example %d: %s printed '%s'"):format(
          i, p.line:match("^%s*(.-)%s*$"), table.concat(out, "   ")))
      end
    end)
  end
end)
