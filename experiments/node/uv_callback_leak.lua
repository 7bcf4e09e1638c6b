-- SPDX-License-Identifier: MIT
-- uv callbacks with no scope of their own: Locals pile up in a process-lifetime scope (the Walmart leak)
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   iojs/io.js #1075 (nodejs/node #1075)  https://github.com/nodejs/node/issues/1075
--     "Possible memory leak in TLS(Wrap?)", fixed by
--   nodejs/node #1078  https://github.com/nodejs/node/pull/1078
--     "stream_wrap: add HandleScope's in uv callbacks"
--   nodejs/post-mortem #11  https://github.com/nodejs/post-mortem/issues/11
--     the "Walmart memory leak": "a HandleScope declared near the start of Node's execution that
--     remained on the stack forever", so Locals made outside a more specific scope were leaked.
-- Mechanism: libuv calls the read callback with no scope; Node <= 0.10 / io.js <= 1.7 kept one
-- HandleScope open around the whole loop (node::Start), so every Local such a callback made
-- went there and lived, with its object, until the process exited. Since io.js 1.8 the loop
-- runs under a SealHandleScope instead: the same callback is refused at its first handle
-- (the case of uv_timer_no_scope.lua). The fix, in both worlds: a HandleScope per callback.
--
-- Modelled: StreamWrap::OnReadCommon of io.js 1.4, one read per loop turn (a timer of 1 ms
-- standing for the socket's readiness), each making the Locals the real one made (nread, the
-- Buffer, the wrap's object and its onread function) and calling into JavaScript through
-- node::MakeCallback. Simplified: one stream, a Buffer is an array of 16 elements.
local scopelab = require "scopelab"
local READS, EVERY = 1500, 50

-- void StreamWrap::OnReadCommon(uv_stream_t* handle, ssize_t nread, const uv_buf_t* buf, ...) {
--   StreamWrap* wrap = static_cast<StreamWrap*>(handle->data);
--   // #1078 adds: HandleScope scope(wrap->env()->isolate());
--   Local<Value> argv[] = {
--     Integer::New(env->isolate(), nread),
--     Buffer::Use(env, buf->base, nread),
--   };
--   wrap->MakeCallback(env->onread_string(), ARRAY_SIZE(argv), argv);   // object(), the function
-- }
local function run(name, node, with_scope)
  local iso <close> = scopelab.isolate{ young_size = 256 * 1024 }
  local loop = scopelab.loop(iso, { node = node })
  local rec = recorder(iso, name)
  local got = { reads = 0, js = 0, handles = {}, heap = {}, loop_scope = {} }
  local wrap_object, onread
  do  -- the stream's JavaScript object and its onread, kept by Node in persistents
    local s <close> = iso:handle_scope()
    wrap_object = iso:persistent(iso:object())
    onread = iso:persistent(iso:func(function() got.js = got.js + 1 end, nil, "onread"))
  end
  local base = iso:number_of_handles()
  local function on_read_common()
    local scope = with_scope and iso:handle_scope()
    got.reads = got.reads + 1
    local nread = iso:integer(64 * 1024)
    local buffer = iso:array(16)
    buffer:set(1, nread)
    loop:make_callback(onread:get(), wrap_object:get(), nread, buffer)
    if scope then got.per_read = got.per_read or iso:number_of_handles() - base; scope:close() end
    if got.reads % EVERY == 0 then
      rec:mark("read", got.reads)
      local st = iso:stats()
      got.handles[#got.handles + 1] = st.handles - base
      got.heap[#got.heap + 1] = st.young_used + st.old_used
      got.loop_scope[#got.loop_scope + 1] = loop:stats().scope_handles
    end
    if got.reads < READS then loop:set_timeout(1, on_read_common) end
  end
  loop:set_timeout(1, on_read_common)
  local ok, err = pcall(loop.run, loop)
  got.error = not ok and tostring(err):gsub("^[^:]+:%d+: ", "") or nil
  iso:collect("full")                      -- what the process still keeps after a full GC
  rec:mark("after a full collection")
  rec:stop()
  local st = iso:stats()
  got.kept = st.young_used + st.old_used
  got.loop_held = loop:stats().scope_handles
  iso:verify()
  print(("%-40s %-4s: %4d reads, JavaScript called %4d times; the loop's own scope holds %4d handles;"
    .. " %7d B of heap live after a full GC"):format(name, node and "node" or "0.10", got.reads, got.js,
    got.loop_held, got.kept))
  if not ok then print("  the first read raised: " .. got.error) end
  if ok then loop:close() else loop.__close(loop, err) end
  onread:reset(); wrap_object:reset()
  return got
end

local leak = run("OnReadCommon without a scope (io.js 1.4)", false, false)
local sealed = run("OnReadCommon without a scope (today)", true, false)
local fixed_old = run("OnReadCommon with a HandleScope (#1078)", false, true)
local fixed = run("OnReadCommon with a HandleScope (#1078)", true, true)

claim.equal(READS, leak.reads, "under the old loop every read runs")
claim.grows(leak.handles, "and the handle count climbs read after read")
claim.equal(fixed.per_read * READS, leak.loop_held,
  "every Local every read made is still in the loop's process-lifetime scope")
claim.grows(leak.heap, "the Buffers those handles hold keep the heap growing")
claim.less(fixed_old.kept * 10, leak.kept,
  "a full collection cannot free them: the leaky process keeps over 10 times the heap of the fixed one")
claim(sealed.error and sealed.error:find("seal scope", 1, true) ~= nil,
  "today's Node refuses the same callback at its first handle: the seal of case 1")
claim.equal(1, sealed.reads, "it stops at the first read")
claim.equal(READS, fixed_old.reads, "with a scope per callback every read runs under the old loop")
claim.flat(fixed_old.handles, "and the handle count stays flat")
claim.equal(0, fixed_old.loop_held, "nothing reaches the process-lifetime scope")
claim.equal(READS, fixed.js, "under today's seal too, JavaScript sees every read")
claim.flat(fixed.handles, "with a flat handle count")
