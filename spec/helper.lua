-- Shared by every spec (see .busted): puts the module on the path and, when
-- SCOPELAB_STRESS=1 (make test-stress), makes every isolate collect often, move
-- everything on major collections and verify the heap after each one. Specs that
-- count collections or moves exactly pass gc_interval = 0 themselves.
-- Appended, not prepended: a caller that points LUA_CPATH or --cpath at another
-- build (sanitizers, valgrind) must get that build.
package.path = package.path .. ";./lua/?.lua;./lua/?/init.lua"
package.cpath = package.cpath .. ";./build/?.so"

local scopelab = require "scopelab"

if os.getenv("SCOPELAB_STRESS") == "1" then
  scopelab.set_defaults { gc_interval = 7, stress_compaction = true, verify_heap = true }
end

-- Every spec may use assert.alive/collected/moved/handles (scopelab.assert).
require "scopelab.assert"
