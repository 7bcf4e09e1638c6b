/* SPDX-License-Identifier: MIT */
/*
** slconf.h: tunables of the scopelab core, each overridable with -D.
*/
#ifndef SLCONF_H
#define SLCONF_H

/* Slots per handle block: V8's kHandleBlockSize, so a block fits in one page. */
#if !defined(SLC_BLOCK_SIZE)
#define SLC_BLOCK_SIZE 1022
#endif

/* Bytes in each young semispace. */
#if !defined(SLC_YOUNG_SIZE)
#define SLC_YOUNG_SIZE ((size_t)1 << 20)
#endif

/* Old-generation limit in bytes (reserved up front; the OS commits pages lazily). */
#if !defined(SLC_OLD_SIZE)
#define SLC_OLD_SIZE ((size_t)256 << 20)
#endif

/* The n-th survived scavenge promotes (V8 promotes on the second). */
#if !defined(SLC_PROMOTE_AFTER)
#define SLC_PROMOTE_AFTER 2
#endif

/* Persistent nodes per pool block (V8's NodeBlock::kSize). */
#if !defined(SLC_NODE_BLOCK)
#define SLC_NODE_BLOCK 256
#endif

/* What freed Local slots hold with the 'zap_handles' option. Stale Locals are
** caught by their stamps either way; zapping makes a raw read of a freed slot
** recognisable in a debugger (V8's kHandleZapValue). */
#define SLC_ZAP_VALUE ((uintptr_t)0x1baddead0baddeafULL)

/* Objects larger than young_size / SLC_PRETENURE_DIV go straight to old space. */
#if !defined(SLC_PRETENURE_DIV)
#define SLC_PRETENURE_DIV 4
#endif

/* External memory that may grow since the last full collection before the
** next allocation runs one (V8's external_memory soft limit: 64 MiB). */
#if !defined(SLC_EXTERNAL_LIMIT)
#define SLC_EXTERNAL_LIMIT ((size_t)64 << 20)
#endif

/* Old space may grow to this factor times what the last full collection left
** before a full collection runs (V8's heap growing factor), with a floor. */
#if !defined(SLC_GROWING_FACTOR)
#define SLC_GROWING_FACTOR 2.0
#endif
#if !defined(SLC_GROWING_FLOOR)
#define SLC_GROWING_FLOOR ((size_t)1 << 20)
#endif

/* Identities of the read-only roots: above every allocation count. */
#define SLC_ROOT_ID ((uint64_t)1 << 62)

/* Slots per call-frame chunk (a longer argument list gets a chunk of its own). */
#if !defined(SLC_FRAME_CHUNK)
#define SLC_FRAME_CHUNK 1024
#endif

/* Internal invariants: checked in debug and test builds (-DSLC_DEBUG). */
#if defined(SLC_DEBUG)
#include <assert.h>
#define sl_assert(c) assert(c)
#else
#define sl_assert(c) ((void)0)
#endif

#if defined(__GNUC__)
#define sl_likely(x) __builtin_expect(!!(x), 1)
#define sl_unlikely(x) __builtin_expect(!!(x), 0)
#define SL_NOINLINE __attribute__((noinline))
#define SL_ALWAYS_INLINE __attribute__((always_inline))
#else
#define SL_ALWAYS_INLINE
#define sl_likely(x) (x)
#define sl_unlikely(x) (x)
#define SL_NOINLINE
#endif

#endif
