-- SPDX-License-Identifier: MIT
-- rows.lua: what the Lua benchmarks share: the summary of a series of samples, and
-- a row printed as bench/harness.c prints it and appended to the rows file that
-- bench/report.lua reads (workload, case, impl, unit, median, min, max, reps, note).
--
--   local rows = dofile(<this folder> .. "/rows.lua")

local M = {}

-- Median (the lower middle of an even count), min and max.
function M.summarise(samples)
  local v = {}
  for i, x in ipairs(samples) do v[i] = x end
  table.sort(v)
  return { median = v[(#v + 1) // 2], min = v[1], max = v[#v], n = #v }
end

-- Prints one row, with its ratio to 'base' (a summary) when given, and appends it
-- to the open rows file 'out' (or not, when nil).
function M.emit(out, workload, kase, impl, unit, s, base, note)
  local line = ("  %-16s %-28s %-10s median %12.3f  min %12.3f  max %12.3f %-10s"):format(
    workload, kase, impl, s.median, s.min, s.max, unit)
  if base then line = line .. ("  ratio %.2fx"):format(s.median / base.median) end
  if note then line = line .. "  (" .. note .. ")" end
  print(line)
  if out then
    out:write(table.concat({ workload, kase, impl, unit,
      ("%.6g"):format(s.median), ("%.6g"):format(s.min), ("%.6g"):format(s.max),
      tostring(s.n), note or "" }, "\t"), "\n")
    out:flush()
  end
end

return M
