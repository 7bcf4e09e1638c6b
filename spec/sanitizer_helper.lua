-- SPDX-License-Identifier: MIT
-- spec/sanitizer_helper.lua: the busted helper of `make test-asan`.
--
-- The ordinary build comes first on package.cpath (the Makefile exports LUA_CPATH
-- with build/?.so), so a plain require would load it instead of the sanitized one.
-- This helper loads the sanitized 'scopelab.core' first (from SCOPELAB_CPATH, e.g.
-- "build/asan/?.so"), checks it came from there, then runs the spec helper, whose
-- require finds the module already loaded.
local cpath = assert(os.getenv("SCOPELAB_CPATH"), "SCOPELAB_CPATH is not set")
local file = assert(package.searchpath("scopelab.core", cpath))
package.cpath = cpath .. ";" .. package.cpath
require "scopelab.core"
assert(package.searchpath("scopelab.core", package.cpath) == file)
io.stderr:write("sanitizer_helper: scopelab.core from " .. file .. "\n")
dofile "spec/helper.lua"
