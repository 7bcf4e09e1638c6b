-- SPDX-License-Identifier: MIT
-- scopelab.literal: plain data as one line of Lua, read back without 'load'.
local literal = require "scopelab.literal"

describe("scopelab.literal", function()
  it("reads back what it writes: nested tables, every kind of key, trailing nils", function()
    local v = { 1, "two", { three = 3 }, x = { y = {} }, ["end"] = true, ["with space"] = 1,
                [10] = false, [1.5] = -0.0, [true] = "yes" }
    local again = literal.decode(literal.encode(v))
    assert.same(v, again)
    assert.equal(-math.huge, 1 / again[1.5])
    local args = literal.decode(literal.encode({ 7, nil, nil, n = 3 }))
    assert.same({ 7, n = 3 }, args)
  end)

  it("keeps integers integers and floats floats, the extremes and NaN included", function()
    local v = literal.decode(literal.encode({ math.mininteger, math.maxinteger, 2.0, 0.1,
      1 / 0, -1 / 0, 0 / 0, 1e300, 5e-324 }))
    assert.equal(math.mininteger, v[1]); assert.equal("integer", math.type(v[1]))
    assert.equal(math.maxinteger, v[2])
    assert.equal("float", math.type(v[3]))
    assert.same({ 0.1, 1 / 0, -1 / 0, 1e300, 5e-324 }, { v[4], v[5], v[6], v[8], v[9] })
    assert.is_true(v[7] ~= v[7])
  end)

  it("writes any string on one line and reads back every byte", function()
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    local s = table.concat(all) .. "\r\n\"'\\"
    local line = literal.encode(s)
    assert.is_nil(line:find("\n", 1, true))
    assert.equal(s, literal.decode(line))
  end)

  it("reads Lua's other string escapes, single quotes and separators", function()
    assert.same({ "HAA\0b", 'it\'s', 16, -0.5, 100000.0, a = { 2 } },
      literal.decode([[ { "\u{48}\x41\65\0\z
        b" ; 'it\'s', 0x10, -.5, 1e5, a = { 2, }, } ]]))
  end)

  it("refuses anything but data, naming the column", function()
    local cases = {
      { "{op=os.exit()}", "col 5: unexpected name 'os' (a literal holds data only)" },
      { "{x=(function() end)()}", "col 4: unexpected '('" },
      { '("x"):rep(3)', "col 1: unexpected '('" },
      { "{1 2}", "col 4: ',' or '}' expected near '2'" },
      { "{[{}]=1}", "col 3: a key must be a string, number or boolean" },
      { "{[nil]=1}", "col 2: a key cannot be nil" },
      { "{[0/0]=1}", "col 2: a key cannot be NaN" },
      { '"open', "col 1: unfinished string" },
      { "{a=1}}", "col 6: unexpected '}' after the value" },
      { "{", "col 2: unexpected end of text" },
      { "12ab", "col 1: malformed number near '12'" },
      { '"\\q"', "col 2: invalid escape '\\q'" },
      { '"\\300"', "col 2: decimal escape too large" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(literal.decode, c[1])
      assert.is_false(ok, c[1])
      assert.equal(c[2], err)
    end
  end)

  it("reads a 200,000-deep nesting with its own stack", function()
    local depth = 200000
    local v = literal.decode(string.rep("{", depth) .. string.rep("}", depth))
    local n = 0
    while v[1] do v, n = v[1], n + 1 end
    assert.equal(depth - 1, n)
  end)

  it("refuses to write a function, a cycle or a table key", function()
    assert.has_error(function() literal.encode({ f = print }) end, "cannot write a function as a literal")
    local t = {}
    t.self = t
    assert.has_error(function() literal.encode(t) end,
      "cannot write a table nested more than 100 deep (a cycle?)")
    assert.has_error(function() literal.encode({ [{}] = 1 }) end, "cannot write a table key as a literal")
  end)
end)
