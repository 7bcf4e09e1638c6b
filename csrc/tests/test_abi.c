/* SPDX-License-Identifier: MIT */
/*
** test_abi.c: the layout that inline calls compile into programs is the ABI.
**
** The fingerprint hashes every size, offset and flag value of
** scopelab_internal.h and of the public structs. The table below records one
** fingerprint per SL_ABI_VERSION: a layout change that leaves SL_ABI_VERSION
** as it was (and with it the shared library's soname) fails here.
*/
#include <string.h>

#include "t.h"

/* When this test fails after a deliberate layout change: bump SL_ABI_VERSION
** in scopelab.h and add a line {new version, the fingerprint printed}. */
static const struct { int abi; uint64_t fingerprint; } known_abis[] = {
  { 2, 0xd205495cd0f7da70ULL },
  { 3, 0x1db8b976822084e3ULL },
};

static uint64_t mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; i++) {  /* FNV-1a over the 8 bytes of v */
    h ^= (v >> (8 * i)) & 0xffu;
    h *= 0x100000001b3ULL;
  }
  return h;
}

#define SZ(t) h = mix(h, sizeof(t))
#define AT(t, f) h = mix(h, offsetof(t, f))
#define V(x) h = mix(h, (uint64_t)(x))

static uint64_t fingerprint(void) {
  uint64_t h = 0xcbf29ce484222325ULL;
  SZ(sl__scope_record); AT(sl__scope_record, stamp); AT(sl__scope_record, prev_next);
  AT(sl__scope_record, meta); AT(sl__scope_record, prev_limit);
  SZ(sl__handle_data); AT(sl__handle_data, next); AT(sl__handle_data, limit);
  AT(sl__handle_data, stamp); AT(sl__handle_data, scopes); AT(sl__handle_data, serial);
  AT(sl__handle_data, open_limit); AT(sl__handle_data, zap);
  SZ(sl__space); AT(sl__space, start); AT(sl__space, top); AT(sl__space, end);
  SZ(sl__isolate_head); AT(sl__isolate_head, young); AT(sl__isolate_head, gc_trigger);
  AT(sl__isolate_head, next_id); AT(sl__isolate_head, hs);
  SZ(sl__object_header); AT(sl__object_header, meta); AT(sl__object_header, length);
  AT(sl__object_header, id);
  V(SL__SCOPE_KIND); V(SL__SCOPE_ESCAPED); V(SL__SCOPE_CHECKED); V(SL__SCOPE_WATCHED);
  V(SL__KIND_MASK); V(SL__REMEMBERED); V(SL__OLD); V(SL__DEPTH_BITS);
  V(SL_INTEGER); V(SL_NUMBER); V(SL_STRING); V(SL_ARRAY); V(SL_OBJECT); V(SL_FUNCTION);
  V(SL_EXTERNAL); V(SL_PROPERTIES); V(SL_UNDEFINED); V(SL_NULL); V(SL_BOOLEAN); V(SL_SMI);
  V(SL__TAG_MASK); V(SL__INTERNED); V((uintptr_t)SL__SMI(-1)); V(SL_SMI_MIN); V(SL_SMI_MAX);
  V(SL_SCOPE_HANDLE); V(SL_SCOPE_ESCAPABLE); V(SL_SCOPE_SEAL);
  SZ(sl_local); SZ(sl_scope); SZ(sl_persistent); SZ(sl_probe);
  SZ(sl_options); AT(sl_options, gc_at); AT(sl_options, gc_at_count);
  SZ(sl_gc_stats); SZ(sl_heap_stats); SZ(sl_scope_info); SZ(sl_probe_info);
  SZ(sl_object_info); SZ(sl_root_info); SZ(sl_path);
  return h;
}

void test_the_layout_matches_the_abi_version(void) {
  uint64_t fp = fingerprint();
  int found = 0, entries = 0;
  CHECK(strcmp(sl_version(), SL_VERSION) == 0);
  CHECK(sl_abi_version() == SL_ABI_VERSION);
  for (size_t i = 0; i < sizeof known_abis / sizeof known_abis[0]; i++)
    if (known_abis[i].abi == SL_ABI_VERSION) {
      entries++;
      found = known_abis[i].fingerprint == fp;
    }
  CHECK(entries <= 1);  /* one layout per ABI: a new layout needs a new number */
  if (!found)
    fprintf(stderr, "  the layout changed: bump SL_ABI_VERSION (now %d) and record "
            "{%d, 0x%016llxULL} in csrc/tests/test_abi.c\n", SL_ABI_VERSION,
            SL_ABI_VERSION + 1, (unsigned long long)fp);
  CHECK(found);
}
