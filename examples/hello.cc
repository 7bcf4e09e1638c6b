/* SPDX-License-Identifier: MIT */
// hello.cc: scopelab from C++17, built against the installed headers with
// -std=c++17 -pedantic -Werror, so that the public header and the inline calls
// of scopelab_internal.h stay valid C++. A scope guard closes the handle scope
// (RAII, as v8::HandleScope does), an escapable scope returns one value, and a
// major collection keeps exactly what a persistent handle holds.
#include <cstdio>
#include <cstdlib>

#include <scopelab.h>

namespace {

// A handle scope closed by its destructor, like v8::HandleScope.
class HandleScope {
 public:
  explicit HandleScope(sl_isolate *iso) { ok_ = sl_scope_open(iso, &s_) == SL_OK; }
  ~HandleScope() { if (ok_) sl_scope_close(&s_); }
  HandleScope(const HandleScope &) = delete;
  HandleScope &operator=(const HandleScope &) = delete;
  bool ok() const { return ok_; }

 private:
  sl_scope s_{};
  bool ok_ = false;
};

bool check(bool cond, const char *what) {
  std::printf("%s %s\n", cond ? "ok  " : "FAIL", what);
  return cond;
}

// Makes an array of two integers in an inner escapable scope and escapes it.
sl_status make_pair(sl_isolate *iso, sl_local *out) {
  sl_scope inner;
  sl_local a, b, pair;
  sl_status st = sl_escapable_scope_open(iso, &inner);
  if (st != SL_OK) return st;
  if ((st = sl_integer(iso, 1, &a)) == SL_OK && (st = sl_integer(iso, 2, &b)) == SL_OK) {
    const sl_local elems[2] = { a, b };
    if ((st = sl_array_from(iso, 2, elems, &pair)) == SL_OK) st = sl_scope_escape(&inner, pair, out);
  }
  sl_status closed = sl_scope_close(&inner);
  return st != SL_OK ? st : closed;
}

}  // namespace

int main() {
  sl_options o;
  sl_options_init(&o);
  o.verify_heap = 1;
  sl_isolate *iso = sl_isolate_new(&o);
  if (iso == nullptr) return 1;
  bool good = check(sl_abi_version() == SL_ABI_VERSION, "the library's ABI is the header's");
  sl_persistent keep{};
  {
    HandleScope scope(iso);
    sl_local pair = SL_EMPTY_LOCAL, second;
    int64_t v = 0;
    good &= check(scope.ok() && make_pair(iso, &pair) == SL_OK, "an escaped pair outlives its scope");
    good &= check(sl_number_of_handles(iso) == 1, "only the escape slot is left in the outer scope");
    good &= check(sl_persistent_new(iso, pair, &keep) == SL_OK, "a persistent holds the pair");
    good &= check(sl_array_get(iso, pair, 1, &second) == SL_OK &&
                  sl_integer_value(iso, second, &v) == SL_OK && v == 2, "its second element is 2");
  }
  sl_gc_stats g;
  good &= check(sl_collect(iso, SL_MINOR | SL_MAJOR, &g) == SL_OK && g.survived == 3,
                "a full collection keeps the pair and its two integers");
  good &= check(sl_persistent_delete(iso, keep) == SL_OK &&
                sl_collect(iso, SL_MAJOR, &g) == SL_OK && g.survived == 0,
                "after the persistent is deleted nothing survives");
  good &= check(sl_isolate_dispose(iso) == SL_OK, "the isolate is disposed");
  return good ? EXIT_SUCCESS : EXIT_FAILURE;
}
