-- SPDX-License-Identifier: MIT
-- luacheck settings for scopelab (`make lint`; luacheck 1.1, Lua 5.4 code).
--
-- Note: luacheck 1.1 parses Lua 5.4 attributes but ignores them, so a to-be-closed
-- local used only for its closing (`local scope <close> = iso:handle_scope()`) is
-- reported as unused (W211). `make lint` drops exactly those warnings, by checking
-- that the reported line declares a <close> local (see mk/lint.mk); every other
-- unused variable is still reported.
std = "lua54"
max_line_length = 120          -- luacheck's default; result tables and messages get long
codes = true

-- luassert assertion and formatter functions have the fixed signature (state, arguments):
-- an unused 'state' is imposed by luassert, not a mistake.
ignore = { "212/state" }

-- Specs run under busted: describe/it/assert... are its globals.
files["spec/"] = { std = "+busted" }
files[".busted"] = { std = "+busted" }

exclude_files = { "build/" }
