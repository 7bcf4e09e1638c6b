-- SPDX-License-Identifier: MIT
-- `scope.Close(Undefined())` in every after-work callback: a handle per query in the process-lifetime scope
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   wankdanker/node-odbc #12  https://github.com/wankdanker/node-odbc/pull/12
--     "Fixed leaking V8 handles through unnecessary HandleScope.Close() calls": a loop of
--     `db.query('select 1', ...)` grew the heap dumps by 3-5 MB a minute while the JavaScript
--     heap itself stayed under 2 MB.
-- Mechanism: V8 3.x's HandleScope::Close(value) closed the scope and made `value` a new
-- handle in the scope outside (today's EscapableHandleScope::Escape, whose slot is reserved
-- there). In a uv after-work callback the scope outside is the one Node <= 0.10 kept open
-- around the whole loop: each query left one handle there, for the life of the process. The
-- handles hold nothing (Undefined is a root), so the JavaScript heap stays flat while the
-- handle blocks grow: the heap dumps (which list every handle) grew, the heap did not.
-- The fix: drop the Close; the HandleScope's destructor closes it and escapes nothing.
--
-- Modelled: ODBCConnection::UV_AfterQuery under the loop of Node 0.10 ({node = false}),
-- the JavaScript loop of the PR (async.forever: each callback queues the next query), the
-- statement's result block allocated on the worker thread and freed after the callback.
-- Simplified: `scope.Close(v)` is an escapable scope and its escape (what NanEscapeScope
-- compiled to on later V8s); the rows are a one-element array.
local scopelab = require "scopelab"
local QUERIES, EVERY = 3000, 100

-- void ODBCConnection::UV_AfterQuery(uv_work_t* req, int status) {
--   HandleScope scope;
--   query_work_data* data = (query_work_data*)(req->data);
--   Local<Value> args[2];
--   args[0] = Local<Value>::New(Null());
--   args[1] = ODBC::GetRecordArray(data->hSTMT, ...);        // the rows
--   data->cb->Call(Context::GetCurrent()->Global(), 2, args);
--   free(data); free(req);
--   scope.Close(Undefined());                                 // the fix deletes this line
-- }
local function run(name, close_with_undefined)
  local iso <close> = scopelab.isolate()
  local loop = scopelab.loop(iso, { node = false })        -- Node 0.10's loop
  local rec = recorder(iso, name)
  local got = { queries = 0, loop_scope = {}, blocks = {} }
  local query                                               -- forward
  local callback
  do
    local s <close> = iso:handle_scope()
    callback = iso:persistent(iso:func(function()           -- function (err, rows) { done(err) }
      if got.queries < QUERIES then query() end             -- async.forever: the next query
    end, nil, "done"))
  end
  local function after_query(status)
    assert(status == 0)
    local data = got.pending
    local scope = close_with_undefined and iso:escapable_handle_scope() or iso:handle_scope()
    local rows = iso:array(1)
    rows:set(1, iso:smi(1))                                 -- select 1
    got.queries = got.queries + 1
    iso:call(callback:get(), iso:undefined(), iso:null(), rows)
    data:free()                                             -- free(data)
    if close_with_undefined then scope:escape(iso:undefined()) end   -- scope.Close(Undefined())
    scope:close()
    if got.queries % EVERY == 0 then
      rec:mark("query", got.queries)
      local st = iso:stats()
      got.loop_scope[#got.loop_scope + 1] = loop:stats().scope_handles
      got.blocks[#got.blocks + 1] = st.blocks
    end
  end
  query = function()
    loop:queue_work(function()                              -- SQLExecDirect on the threadpool
      got.pending = iso:native_alloc(256, "query_work_data")
    end, after_query)
  end
  query()
  loop:run()
  rec:stop()
  got.held = loop:stats().scope_handles
  got.native = iso:stats().native_bytes
  iso:collect("full")
  local st = iso:stats()
  got.kept = st.young_used + st.old_used
  print(("%-34s %d queries: the loop's own scope holds %4d handles in %d handle block(s);"
    .. " %5d B of JavaScript heap live after a full GC; %d B native"):format(name, got.queries, got.held,
    st.blocks, got.kept, got.native))
  loop:close()
  callback:reset()
  return got
end

local leak = run("with scope.Close(Undefined())", true)
local fix = run("without it (node-odbc #12)", false)

claim.equal(QUERIES, leak.queries, "every query completed")
claim.grows(leak.loop_scope, "each after-work callback leaves a handle in the process-lifetime scope")
claim.equal(leak.queries, leak.held, "exactly one per query: the slot Close(Undefined()) escaped into")
claim.grows(leak.blocks, "the handle blocks grow with them (what the heap dumps counted)")
claim.equal(fix.kept, leak.kept,
  "yet after a full GC the JavaScript heap is the same as the fixed run's: Undefined holds nothing")
claim.equal(0, leak.native, "the native side is clean: every query's block was freed")
claim.equal(QUERIES, fix.queries, "without the Close every query completes too")
claim.flat(fix.loop_scope, "and nothing reaches the process-lifetime scope")
claim.equal(0, fix.held, "it holds no handle")
claim.flat(fix.blocks, "the handle blocks stay as they were")
