-- Shared by every spec (see .busted): puts the module on the path and, when
-- SCOPELAB_STRESS=1 (make test-stress), makes every isolate collect often, move
-- everything on major collections and verify the heap after each one. Specs that
-- count collections or moves exactly pass gc_interval = 0 themselves.
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local scopelab = require "scopelab"

if os.getenv("SCOPELAB_STRESS") == "1" then
  scopelab.set_defaults { gc_interval = 7, stress_compaction = true, verify_heap = true }
end
