-- luacheck settings for scopelab (`make lint`; luacheck 1.1, Lua 5.4 code).
std = "lua54"
max_line_length = 110          -- STYLE.md keeps lines readable, tables of results get long
codes = true

-- Specs run under busted: describe/it/assert... are its globals.
files["spec/"] = { std = "+busted" }
files[".busted"] = { std = "+busted" }

-- Experiments may use busted's assert (luassert) when run under the bench.
files["experiments/"] = { read_globals = { "assert" } }

exclude_files = { "build/" }
