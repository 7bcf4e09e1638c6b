-- SPDX-License-Identifier: MIT
-- Shared by every spec (see .busted): puts the module on the path and, when
-- SCOPELAB_STRESS=1 (make test-stress), makes every isolate collect often, move
-- everything on major collections and verify the heap after each one. Specs that
-- count collections or moves exactly pass gc_interval = 0 themselves.
-- Appended, not prepended: a caller that points LUA_CPATH or --cpath at another
-- build (sanitizers, valgrind) must get that build.
--
-- It is also the module 'helper' (`local helper = require "helper"`), with what
-- many spec files need: here(), an isolate per test, and shell commands.
package.path = package.path .. ";./lua/?.lua;./lua/?/init.lua"
package.cpath = package.cpath .. ";./build/?.so"

local scopelab = require "scopelab"

if os.getenv("SCOPELAB_STRESS") == "1" then
  scopelab.set_defaults { gc_interval = 7, stress_compaction = true, verify_heap = true }
end

-- Every spec may use assert.alive/collected/moved/handles (scopelab.assert).
require "scopelab.assert"

local M = {}

--- "file:line" of the line that calls here(), as the binding records a scope's site.
function M.here()
  local info = debug.getinfo(2, "Sl")
  return info.short_src .. ":" .. info.currentline
end

--- A fresh isolate for every test of the enclosing describe block, made with
-- `opts` before the test and disposed after it; `set` receives it:
--   local iso
--   helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })
function M.isolate_per_test(set, opts)
  local busted = require "busted"    -- its API, as this file's globals are not the spec's
  local iso
  busted.before_each(function()
    iso = scopelab.isolate(opts)
    set(iso)
  end)
  busted.after_each(function() iso:dispose() end)
end

--- The failure message of an assertion that must fail (luassert raises a table).
function M.failure(fn)
  local ok, err = pcall(fn)
  if ok then error("the assertion passed but was expected to fail", 2) end
  return tostring(type(err) == "table" and err.message or err)
end

--- Single-quotes a string for sh.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Runs a shell command; returns ok, its output (stdout and stderr), and its exit code.
function M.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok == true, out, code
end

--- Runs a shell command that must succeed, failing the test with its output otherwise.
function M.must(cmd)
  local ok, out, code = M.sh(cmd)
  assert(ok, string.format("command failed (exit %s):\n%s\noutput:\n%s", tostring(code), cmd, out))
  return out
end

-- Required by name from the spec files; busted loads this file as its helper
-- first, and keeps what it loaded across the files it insulates.
package.loaded.helper = M
return M
