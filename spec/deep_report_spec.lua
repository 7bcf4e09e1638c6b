-- SPDX-License-Identifier: MIT
-- iso:handle_report() over a very deep scope stack: one linear walk (issue 13 item 11).
local helper = require "helper"
local scopelab = require "scopelab"

describe("iso:handle_report on 10^5 nested scopes", function()
  it("lists every scope, outermost first, with its depth, level, handles and site", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local N = 100000
    local scopes, site = {}, nil
    for i = 1, N do
      if i % 2 == 0 then
        scopes[i] = iso:escapable_handle_scope(); site = site or helper.here()
      else
        scopes[i] = iso:handle_scope()
      end
      if i % 1000 == 0 then iso:smi(i) end
    end
    local rep = iso:handle_report()
    assert.equal(N, #rep)
    -- an odd scope holds the slot the escapable scope inside it reserved; an even
    -- one, every 1000th, a Smi
    assert.same({ kind = "handle", level = 1, depth = 1, handles = 1, capacity = 0,
                  escaped = false, site = scopes[1]:site() }, rep[1])
    assert.equal(0, rep[2].handles)
    assert.same({ kind = "handle", level = 999, depth = 999, handles = 1, capacity = 0,
                  escaped = false, site = scopes[999]:site() }, rep[999])
    assert.same({ kind = "escapable", level = 1000, depth = 1000, handles = 1, capacity = 0,
                  escaped = false, site = site }, rep[1000])
    assert.same({ kind = "escapable", level = N, depth = N, handles = 1, capacity = 0,
                  escaped = false, site = site }, rep[N])
    local total, misplaced = 0, 0
    for i = 1, N do
      if rep[i].depth ~= i or rep[i].level ~= i then misplaced = misplaced + 1 end
      total = total + rep[i].handles
    end
    assert.equal(0, misplaced)
    assert.equal(iso:number_of_handles(), total)
    for i = N, 1, -1 do scopes[i]:close() end
    assert.same({}, iso:handle_report())
  end)
end)

describe("iso:handle_report inside a call", function()
  it("marks the implicit HandleScope of iso:call, opened at the line of the call", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local s <close> = iso:handle_scope()
    local rep
    local fn = iso:func(function() iso:integer(1); rep = iso:handle_report() end)
    iso:call(fn, nil); local site = helper.here()
    assert.equal(2, #rep)
    assert.is_nil(rep[1].implicit)
    assert.same({ kind = "handle", level = 2, depth = 2, handles = 1, capacity = 0,
                  escaped = false, implicit = true, site = site }, rep[2])
    assert.matches("  2%. handle    level 2       1 handles  opened at " .. site:gsub("%p", "%%%0")
      .. "  %(implicit: opened by iso:call%)$", tostring(rep))
  end)
end)
