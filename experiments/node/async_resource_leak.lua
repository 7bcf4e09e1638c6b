-- SPDX-License-Identifier: MIT
-- `~AsyncResource` never resetting its resource Persistent: every async work item's resource object lives forever
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   nodejs/node-addon-api #237  https://github.com/nodejs/node-addon-api/issues/237
--     "Is node-addon-api@1.2.0 leaking memory?": every AsyncWorker left an object behind
--   nodejs/node #20668          https://github.com/nodejs/node/pull/20668
--     "async_wrap: fix memory leak in AsyncResource": "Reset the persistent that keeps the
--     resource Object alive when the AsyncResource is being destroyed."
-- Mechanism: napi_create_async_work with no resource makes one (Object::New) and hands it to
-- node::AsyncResource, which keeps it in a v8::Persistent. A v8::Persistent's destructor does
-- not Reset it (kResetInDestructor is false: only v8::Global resets), and ~AsyncResource did
-- not either: delete the work item and its node stays, strong, holding the resource object.
--
-- Modelled: node-addon-api's AsyncWorker as a JavaScript loop runs it (each completion starts
-- the next worker): napi_create_async_work -> uvimpl::Work (an AsyncResource) -> uv_queue_work;
-- the after-work callback as Node runs it (a HandleScope and a callback scope, then complete),
-- then AsyncWorker::Destroy -> napi_delete_async_work -> ~Work -> ~AsyncResource.
-- Simplified: no async_hooks (EmitAsyncInit/EmitAsyncDestroy only count ids); the worker's
-- receiver and callback references are left out (they were deleted correctly).
local scopelab = require "scopelab"
local WORKERS, EVERY = 600, 20

-- class AsyncResource {                          // node.h, before #20668
--  public:
--   AsyncResource(Isolate* isolate, Local<Object> resource, const char* name)
--       : isolate_(isolate), resource_(isolate, resource) {
--     async_context_ = EmitAsyncInit(isolate, resource, name);
--   }
--   virtual ~AsyncResource() {
--     EmitAsyncDestroy(isolate_, async_context_);
--     // #20668 adds: resource_.Reset();
--   }
--  private:
--   Persistent<Object> resource_;                // not a Global: its destructor does nothing
-- };
local function async_resource(iso, resource)
  return { resource = iso:persistent(resource) }  -- resource_(isolate, resource)
end
local function destroy_async_resource(ar, fixed)
  if fixed then ar.resource:reset() end           -- resource_.Reset()
  -- delete: the C++ object is gone; the Persistent's node is not
end

local function run(name, fixed)
  local iso <close> = scopelab.isolate{ young_size = 128 * 1024 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local got = { done = 0, persistents = {}, heap = {} }
  local outer <close> = iso:handle_scope()
  local run_worker                                -- addon.runWorker(), a napi function
  -- napi_create_async_work(env, nullptr /* resource */, name, Execute, Complete, this, &work)
  local function create_async_work()
    local resource = env:create_object()          -- async_resource == nullptr: Object::New
    resource:set("resource-id", iso:string("generic"))
    return async_resource(iso, resource)
  end
  local function on_work_complete(work, status)  -- uvimpl::Work::AfterThreadPoolWork
    local scope <close> = iso:handle_scope()      -- Node: HandleScope + CallbackScope
    assert(status == 0)
    got.done = got.done + 1
    destroy_async_resource(work, fixed)           -- AsyncWorker::Destroy -> napi_delete_async_work
    if got.done % EVERY == 0 then
      rec:mark("worker", got.done)
      local st = iso:stats()
      got.persistents[#got.persistents + 1] = st.persistent_handles
      got.heap[#got.heap + 1] = st.young_used + st.old_used
    end
    if got.done < WORKERS then                    -- the JavaScript loop starts the next worker
      loop:make_callback(run_worker, iso:undefined())
    end
  end
  run_worker = env:create_function("runWorker", function()
    local work = create_async_work()
    loop:queue_work(function() end, function(status) on_work_complete(work, status) end)
  end)
  loop:make_callback(run_worker, iso:undefined())
  loop:run()
  iso:collect("full")
  rec:mark("after a full collection")
  rec:stop()
  iso:verify()
  local st = iso:stats()
  got.left = st.persistent_handles
  got.kept = st.young_used + st.old_used
  got.report = iso:persistent_report()
  print(("%-38s %d workers: %3d persistent handles left, %6d B of heap live after a full GC")
    :format(name, got.done, got.left, got.kept))
  local top = got.report[1]
  if top then print(("  persistent_report: %d handles created at %s"):format(top.count, top.site)) end
  loop:close()
  return got
end

local leak = run("~AsyncResource without Reset", false)
local fixed = run("~AsyncResource resets (#20668)", true)

claim.equal(WORKERS, leak.done, "every worker completed and was destroyed")
claim.grows(leak.persistents, "yet the persistent handles grow by one per worker")
claim.equal(WORKERS, leak.left, "all of them survive a full collection")
claim.equal(WORKERS, leak.report.total, "persistent_report finds every one")
claim.equal(WORKERS, leak.report[1] and leak.report[1].count,
  "at one site: the resource_ of AsyncResource's constructor")
claim.less(fixed.kept * 10, leak.kept, "the resource objects they hold stay in the heap")
claim.equal(WORKERS, fixed.done, "with the Reset every worker completes too")
claim.flat(fixed.persistents, "and the persistent handle count stays flat")
claim.equal(0, fixed.left, "none is left after the run")
claim.equal(0, fixed.report.total, "persistent_report is empty")
