/* SPDX-License-Identifier: MIT */
/*
** scopelab.h: the public C API of scopelab.
**
** An isolate owns a generational moving heap (a copying young generation and a
** sliding mark-compact old generation with a write barrier) and the handles that
** native code uses to refer into it:
**
**   Local handles      slots in block-allocated handle scopes (V8's HandleScope)
**   escapable scopes   one slot reserved in the parent so a value outlives the scope
**   seal scopes        no handle may be created in the sealed level
**   persistent handles nodes that outlive every scope until reset; may be weak
**   eternal handles    roots that live as long as the isolate
**   probes             observers that see an object move and die, never keep it alive
**
** Every function that can fail returns an sl_status; on failure the isolate keeps a
** message for sl_last_error(). Misuse never aborts and never corrupts the isolate.
** Raw object pointers are never exposed: an object may move at every allocation.
**
** Threads: an isolate has no lock. Two isolates may run in two threads at once,
** but one isolate must be used by one thread at a time (V8 asks for a Locker).
**
** Read this file top to bottom: every call has its prototype and a one-line doc
** in its section. The calls marked "inline" are defined, with the layout they
** read, in scopelab_internal.h (included at the end), as V8 keeps its Internals
** in v8-internal.h: never touch what is named sl__ there.
*/
#ifndef SCOPELAB_H
#define SCOPELAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ version */

#define SL_VERSION_MAJOR 0
#define SL_VERSION_MINOR 2
#define SL_VERSION_PATCH 0
#define SL_VERSION "0.2.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if tests. */
#define SL_VERSION_NUM (SL_VERSION_MAJOR * 10000 + SL_VERSION_MINOR * 100 + SL_VERSION_PATCH)

/* The ABI: the inline calls below compile the isolate's layout into the program
** that uses them, so every change of that layout bumps this number, and with it
** the shared library's soname (libscopelab.so.<SL_ABI_VERSION>). */
#define SL_ABI_VERSION 3

/* Exported from the shared library (everything else in it is hidden). */
#if defined(__GNUC__)
#define SL_API __attribute__((visibility("default")))
#else
#define SL_API
#endif

/* The version of the library linked in ("0.2.0"): compare with SL_VERSION. */
SL_API const char *sl_version(void);
/* The ABI of the library linked in: must equal SL_ABI_VERSION. */
SL_API int sl_abi_version(void);

typedef struct sl_isolate sl_isolate;
typedef struct sl_object sl_object;     /* opaque: never dereference */
typedef struct sl_node sl_node;         /* opaque: a persistent or probe node */

/* ------------------------------------------------------------------ status */

typedef enum sl_status {
  SL_OK = 0,
  SL_ENOSCOPE,    /* a handle was created with no handle scope open */
  SL_ESEALED,     /* a handle was created in a sealed level */
  SL_ESTALE,      /* a Local from a scope that has closed */
  SL_EESCAPE,     /* escaping twice, or from a scope that is not escapable/open */
  SL_EORDER,      /* closing a scope that is not the innermost */
  SL_EISOLATE,    /* a handle that belongs to another isolate */
  SL_ENOMEM,      /* heap exhausted (after a full collection) or malloc failed */
  SL_EARG,        /* bad argument: wrong kind, index out of range, empty handle */
  SL_ECAPACITY,   /* a capacity-checked scope is full */
  SL_ESTATE,      /* not allowed now (e.g. collecting inside a collection) */
  SL_ECORRUPT,    /* the heap verifier found a broken invariant */
  SL_ETHREAD,     /* the isolate was used from a thread that does not own it */
  SL_ECALLBACK    /* a function's callback failed: its status is in sl_last_error */
} sl_status;

/* The message of the last failed call on this isolate ("" if none). */
SL_API const char *sl_last_error(const sl_isolate *iso);
/* The status of the last failed call on this isolate (SL_OK if none). */
SL_API sl_status sl_last_status(const sl_isolate *iso);
/* Sets the isolate's status and message and returns 'st' (a callback's own
** failure: sl_call returns it with this message). */
SL_API sl_status sl_set_error(sl_isolate *iso, sl_status st, const char *msg);
/* A short constant name for a status ("no scope", "stale handle", ...). */
SL_API const char *sl_status_name(sl_status st);

/* ------------------------------------------------------------------ isolate */

typedef struct sl_options {
  size_t young_size;       /* bytes in each young semispace (0: default 1 MiB) */
  size_t old_size;         /* old-generation limit in bytes (0: default 256 MiB) */
  size_t block_size;       /* slots per handle block (0: default 1022) */
  unsigned promote_after;  /* the n-th survived scavenge promotes (0: default 2) */
  unsigned gc_interval;    /* stress: collect every N allocations (0: off) */
  int gc_interval_major;   /* stress: 0 alternates minor/major, 1 always major,
                              -1 always minor */
  int stress_compaction;   /* every major collection moves every live object */
  int verify_heap;         /* run the verifier after every collection */
  int zap_handles;         /* fill freed Local slots with a zap value on scope
                              close (sl_options_init: 1; 0 is faster) */
  const uint64_t *gc_at;   /* collect when the allocation count reaches each of */
  size_t gc_at_count;      /*   these (sorted ascending; copied at creation) */
  size_t external_memory_limit; /* external memory (sl_adjust_external_memory)
                              that may grow since the last full collection before
                              the next allocation runs one (0: default 64 MiB,
                              V8's soft limit) */
  double heap_growing_factor;   /* a full collection runs when old space in use
                              exceeds this times what the last one left (with a
                              1 MiB floor; 0: default 2.0) */
  int check_thread;        /* debug: refuse (SL_ETHREAD) calls from a thread
                              other than the owner; the allocation, handle and
                              scope fast paths then take their slow paths */
} sl_options;

/* Fills 'o' with the defaults. */
SL_API void sl_options_init(sl_options *o);
/* NULL if 'o' is acceptable, else a message saying which field is wrong. */
SL_API const char *sl_options_check(const sl_options *o);

/* NULL only when the options are invalid (see sl_options_check) or memory ran out. */
SL_API sl_isolate *sl_isolate_new(const sl_options *opts);
/* Frees everything. Refused (SL_ESTATE) from inside a weak callback, a call or a hook. */
SL_API sl_status sl_isolate_dispose(sl_isolate *iso);
/* With check_thread: the calling thread becomes the owner (V8's Locker). */
SL_API sl_status sl_isolate_set_owner(sl_isolate *iso);

/* ------------------------------------------------------------------ locals */

/*
** A Local: the address of a slot in a handle block, plus the stamp of the scope
** that owns that slot (its depth on the scope stack and its serial number). The
** stamp is what lets every call detect a Local whose scope has closed, even after
** the slot was reused. An empty Local has slot == NULL.
*/
typedef struct sl_local {
  sl_object **slot;
  uint64_t stamp;
} sl_local;

#ifdef __cplusplus
#define SL_EMPTY_LOCAL (sl_local{ nullptr, 0 })
#else
#define SL_EMPTY_LOCAL ((sl_local){ NULL, 0 })
#endif
/* 1 for an empty Local (slot == NULL). */
static inline int sl_local_is_empty(sl_local h) { return h.slot == NULL; }

typedef enum sl_kind {
  SL_INTEGER = 1, SL_NUMBER, SL_STRING, SL_ARRAY,      /* heap objects */
  SL_OBJECT, SL_FUNCTION, SL_EXTERNAL,
  SL_PROPERTIES,       /* an object's named-property store (heap walks see it) */
  SL_UNDEFINED, SL_NULL, SL_BOOLEAN,                   /* V8's read-only roots */
  SL_SMI               /* a small integer in the slot itself: no object */
} sl_kind;
/* "integer", "number", "string", "array", "object", "function", "external",
** "properties", "undefined", "null", "boolean", "smi". */
SL_API const char *sl_kind_name(sl_kind k);

typedef enum sl_generation { SL_YOUNG = 1, SL_OLD } sl_generation;

/* Each constructor makes the object and a new Local for it in the innermost
** open handle scope; it may collect first, and any object may move then. */

/* inline: a boxed 64-bit integer (a heap object, V8's HeapNumber). */
static inline sl_status sl_integer(sl_isolate *iso, int64_t v, sl_local *out);
/* inline: a boxed double. */
static inline sl_status sl_number(sl_isolate *iso, double v, sl_local *out);
/* A copy of 'len' bytes; they may be another string's (sl_string_value). */
SL_API sl_status sl_string(sl_isolate *iso, const char *bytes, size_t len, sl_local *out);
/* inline for n <= 4: an array of n empty elements. */
static inline sl_status sl_array(sl_isolate *iso, size_t n, sl_local *out);
/* inline for n <= 4: an array of the n objects elems[0..n-1] refer to (V8's
** Array::New with elements; an empty Local gives an empty element). A stale or
** foreign element fails it before anything is allocated. */
static inline sl_status sl_array_from(sl_isolate *iso, size_t n, const sl_local *elems,
                                      sl_local *out);

/* The smallest and largest Smi: V8's 31-bit small integers. */
#define SL_SMI_MIN (-1073741824)
#define SL_SMI_MAX 1073741823
/* inline: a Smi, held in the handle slot itself (V8's tagged small integer): no
** object is allocated, so nothing is collected or moved. SL_EARG out of range. */
static inline sl_status sl_smi(sl_isolate *iso, int32_t v, sl_local *out);
/* The value of a Smi. */
SL_API sl_status sl_smi_value(sl_isolate *iso, sl_local h, int32_t *out);

/* V8's read-only roots: one object each for the isolate's life, never collected
** or moved. The Local is bound to the isolate's root slot (v8::Undefined): no
** handle is created, so it works with no scope open and under a seal. */
SL_API sl_local sl_undefined(sl_isolate *iso);
SL_API sl_local sl_null(sl_isolate *iso);
/* The true or false root. */
SL_API sl_local sl_boolean(sl_isolate *iso, int b);
/* The value of a boolean. */
SL_API sl_status sl_boolean_value(sl_isolate *iso, sl_local h, int *out);
/* 1 for a live Local of undefined or null. */
SL_API int sl_is_nullish(sl_isolate *iso, sl_local h);

/* inline: a new Local in the innermost scope for h's object (empty stays empty). */
static inline sl_status sl_local_new(sl_isolate *iso, sl_local h, sl_local *out);
/* SL_OK if 'h' is a live, non-empty Local of this isolate, else why not. */
SL_API sl_status sl_local_check(sl_isolate *iso, sl_local h);

/* The kind of h's object. */
SL_API sl_status sl_kind_of(sl_isolate *iso, sl_local h, sl_kind *out);
/* The value of an integer. */
SL_API sl_status sl_integer_value(sl_isolate *iso, sl_local h, int64_t *out);
/* The value of a number. */
SL_API sl_status sl_number_value(sl_isolate *iso, sl_local h, double *out);
/* A string's bytes (NUL-terminated); valid until the next call that may allocate. */
SL_API sl_status sl_string_value(sl_isolate *iso, sl_local h, const char **bytes,
                                 size_t *len);
/* The number of elements of an array. */
SL_API sl_status sl_array_length(sl_isolate *iso, sl_local h, size_t *out);
/* inline: element i (0-based) as a new Local; an empty element gives an empty Local. */
static inline sl_status sl_array_get(sl_isolate *iso, sl_local a, size_t i, sl_local *out);
/* inline for n <= 4: elements i..i+n-1 as n new Locals in out[] (empty Locals for
** empty elements): n reads for one check of 'a'. */
static inline sl_status sl_array_unpack(sl_isolate *iso, sl_local a, size_t i, size_t n,
                                        sl_local *out);
/* inline: element i (0-based) := v's object ('v' empty clears it); runs the barrier. */
static inline sl_status sl_array_set(sl_isolate *iso, sl_local a, size_t i, sl_local v);
/* inline: the object's identity: never reused, kept across moves. */
static inline sl_status sl_identity(sl_isolate *iso, sl_local h, uint64_t *out);
/* The object's current address (it changes when the object moves). */
SL_API sl_status sl_address(sl_isolate *iso, sl_local h, uintptr_t *out);
/* The generation h's object lives in. */
SL_API sl_status sl_generation_of(sl_isolate *iso, sl_local h, sl_generation *out);
/* *out = 1 when both refer to the same object (or both are empty). */
SL_API sl_status sl_same(sl_isolate *iso, sl_local a, sl_local b, int *out);

/* Live Local slots across all open scopes (V8's NumberOfHandles). */
SL_API size_t sl_number_of_handles(const sl_isolate *iso);

/* ------------------------------------------------------------------ objects */

/* V8's JSObject: named properties (string keys, any values, insertion order)
** and a fixed number of internal fields (SetInternalFieldCount), each holding
** a value or an aligned native pointer the collector never follows. Both are
** traced and updated by the collectors and the write barrier. */
#define SL_MAX_INTERNAL_FIELDS 64

/* A new object with 'internal_fields' (0..SL_MAX_INTERNAL_FIELDS) fields, each
** undefined. */
SL_API sl_status sl_object_new(sl_isolate *iso, int internal_fields, sl_local *out);
/* An internalized string (V8's kInternalized): one per content, in old space;
** property keys are compared by identity. */
SL_API sl_status sl_name(sl_isolate *iso, const char *bytes, size_t len, sl_local *out);
/* inline for a name already present: o[key] := v (an empty 'v' stores
** undefined); 'key' is a string, compared by identity when it is a name. */
static inline sl_status sl_object_set(sl_isolate *iso, sl_local o, sl_local key, sl_local v);
/* inline for a name present: o[key] as a new Local; undefined when absent,
** as V8 reads it. */
static inline sl_status sl_object_get(sl_isolate *iso, sl_local o, sl_local key,
                                      sl_local *out);
/* *out = 1 when o has the property. */
SL_API sl_status sl_object_has(sl_isolate *iso, sl_local o, sl_local key, int *out);
/* Removes the property; *out = 1 as V8's Object::Delete, also when it was absent. */
SL_API sl_status sl_object_delete(sl_isolate *iso, sl_local o, sl_local key, int *out);
/* The four above with the key given as bytes (no handle is made for it). */
SL_API sl_status sl_object_set_named(sl_isolate *iso, sl_local o, const char *key,
                                     size_t len, sl_local v);
SL_API sl_status sl_object_get_named(sl_isolate *iso, sl_local o, const char *key,
                                     size_t len, sl_local *out);
SL_API sl_status sl_object_has_named(sl_isolate *iso, sl_local o, const char *key,
                                     size_t len, int *out);
SL_API sl_status sl_object_delete_named(sl_isolate *iso, sl_local o, const char *key,
                                        size_t len, int *out);
/* The number of named properties. */
SL_API sl_status sl_object_property_count(sl_isolate *iso, sl_local o, size_t *out);
/* The i-th key (0-based, insertion order) as a new Local of an internalized string. */
SL_API sl_status sl_object_key_at(sl_isolate *iso, sl_local o, size_t i, sl_local *out);
/* An array of the keys in insertion order (V8's GetOwnPropertyNames). */
SL_API sl_status sl_object_keys(sl_isolate *iso, sl_local o, sl_local *out);
/* The number of internal fields. */
SL_API sl_status sl_object_internal_field_count(sl_isolate *iso, sl_local o, int *out);
/* Field i (0-based) := v's value (an empty 'v' stores undefined). */
SL_API sl_status sl_object_set_internal_field(sl_isolate *iso, sl_local o, int i, sl_local v);
/* Field i as a new Local; SL_EARG if it holds an aligned pointer. */
SL_API sl_status sl_object_get_internal_field(sl_isolate *iso, sl_local o, int i,
                                              sl_local *out);
/* Field i := a native pointer (at least 4-byte aligned, or NULL), never followed. */
SL_API sl_status sl_object_set_aligned_pointer(sl_isolate *iso, sl_local o, int i, void *p);
/* Field i's native pointer (NULL if it holds undefined); SL_EARG for a value. */
SL_API sl_status sl_object_get_aligned_pointer(sl_isolate *iso, sl_local o, int i,
                                               void **out);

/* A heap object holding a native pointer (V8's External). */
SL_API sl_status sl_external_new(sl_isolate *iso, void *p, sl_local *out);
/* The native pointer of an external. */
SL_API sl_status sl_external_value(sl_isolate *iso, sl_local h, void **out);

/* ------------------------------------------------------------------ calls */

/* What a function's callback is given (V8's FunctionCallbackInfo); valid only
** while the callback runs. */
typedef struct sl_call_info sl_call_info;
/* A native function. A status other than SL_OK fails the call with it. */
typedef sl_status (*sl_function_callback)(sl_isolate *iso, const sl_call_info *info);

/* A function object: 'cb' with its 'native' pointer (never followed), 'data'
** (a value, may be empty: undefined) and 'name' (a string, may be empty). */
SL_API sl_status sl_function_new(sl_isolate *iso, sl_function_callback cb, void *native,
                                 sl_local data, sl_local name, sl_local *out);
/* A function's name (a new Local; the empty string when it has none). */
SL_API sl_status sl_function_name(sl_isolate *iso, sl_local fn, sl_local *out);
/*
** Calls 'fn' as JavaScript would: refused before the callback runs with no
** scope open (SL_ENOSCOPE) or under a seal (SL_ESEALED); otherwise the engine
** opens a HandleScope around the callback (as V8 does for every API call), so
** every Local it makes dies on return. The receiver (empty: undefined) and the
** arguments sit in a call frame, a root, for the call. '*result' is a new Local
** in the caller's innermost scope: the value the callback set, else undefined.
** A callback that fails, or leaves scopes of its own open, fails the call (the
** scopes are closed); the isolate stays usable. Calls nest.
*/
SL_API sl_status sl_call(sl_isolate *iso, sl_local fn, sl_local recv, size_t argc,
                         const sl_local *argv, sl_local *result);
/* The receiver (V8's This()). */
SL_API sl_local sl_call_this(const sl_call_info *ci);
/* The number of arguments. */
SL_API size_t sl_call_length(const sl_call_info *ci);
/* Argument i (0-based); undefined past the end, as V8 reads it. */
SL_API sl_local sl_call_arg(const sl_call_info *ci, size_t i);
/* The function's data value. */
SL_API sl_local sl_call_data(const sl_call_info *ci);
/* The function being called. */
SL_API sl_local sl_call_callee(const sl_call_info *ci);
/* The native pointer the function was made with. */
SL_API void *sl_call_native(const sl_call_info *ci);
/* The isolate. */
SL_API sl_isolate *sl_call_isolate(const sl_call_info *ci);
/* Sets the return value (an empty 'v': undefined). */
SL_API sl_status sl_call_set_return(const sl_call_info *ci, sl_local v);
/* Calls in progress (0 outside any). */
SL_API uint32_t sl_call_depth(const sl_isolate *iso);

/* ------------------------------------------------------------------ scopes */

typedef enum sl_scope_kind {
  SL_SCOPE_HANDLE = 1, SL_SCOPE_ESCAPABLE, SL_SCOPE_SEAL
} sl_scope_kind;

/* A token for an open scope; the isolate keeps the saved next/limit. Copyable:
** any copy closes the scope, and every copy knows when it has been closed. */
typedef struct sl_scope {
  sl_isolate *iso;
  uint64_t stamp;      /* the scope's serial and depth: read them with
                          sl_scope_token_depth / sl_scope_token_serial */
} sl_scope;

/* inline: opens a handle scope (saves next/limit; allocates nothing). */
static inline sl_status sl_scope_open(sl_isolate *iso, sl_scope *out);
/* inline: reserves the escape slot in the current (parent) scope, then opens. */
static inline sl_status sl_escapable_scope_open(sl_isolate *iso, sl_scope *out);
/* Opens a seal scope: no handle may be created until an inner scope opens. */
SL_API sl_status sl_seal_scope_open(sl_isolate *iso, sl_scope *out);
/* A handle scope that refuses its (capacity+1)-th handle with SL_ECAPACITY. */
SL_API sl_status sl_scope_open_capacity(sl_isolate *iso, size_t capacity, sl_scope *out);
/* inline: closes the scope; only the innermost open one may close (SL_EORDER). */
static inline sl_status sl_scope_close(sl_scope *s);
/* inline: copies h's object into the slot reserved in the parent; *out is a Local
** of the parent scope. An empty 'h' escapes as empty; a second escape is SL_EESCAPE. */
static inline sl_status sl_scope_escape(sl_scope *s, sl_local h, sl_local *out);
/* 1 while the scope is open. */
SL_API int sl_scope_is_open(const sl_scope *s);
/* Tags the scope for diagnostics: an opaque number the embedder maps to a site. */
SL_API sl_status sl_scope_set_site(sl_scope *s, uint32_t site);
/* inline: where a token's scope sits (or sat) on the stack, 1-based. */
static inline uint32_t sl_scope_token_depth(const sl_scope *s);
/* inline: a token's scope serial (unique in its isolate). */
static inline uint64_t sl_scope_token_serial(const sl_scope *s);

typedef struct sl_scope_info {
  sl_scope_kind kind;
  int implicit;         /* the HandleScope sl_call opened around a callback */
  uint32_t depth;       /* 1-based position on the scope stack */
  uint32_t level;       /* V8's level: handle scopes open up to and including it */
  uint64_t serial;
  size_t handles;       /* slots this scope owns (not counting inner scopes) */
  size_t capacity;      /* 0: unchecked */
  uint32_t site;
  int escaped;          /* escapable scopes: the escape slot has been filled */
} sl_scope_info;

/* Number of open scopes (of every kind). */
SL_API uint32_t sl_scope_depth(const sl_isolate *iso);
/* The open scope at 'depth' (1..sl_scope_depth()). */
SL_API sl_status sl_scope_info_at(const sl_isolate *iso, uint32_t depth, sl_scope_info *out);
/* Every open scope, outermost first, in one linear pass (a report over a deep
** stack); returning non-zero stops the walk. */
typedef int (*sl_scope_visitor)(const sl_scope_info *scope, void *ud);
SL_API void sl_scope_foreach(const sl_isolate *iso, sl_scope_visitor cb, void *ud);
/* A token for the open scope at 'depth' (1..sl_scope_depth()), e.g. to close
** scopes an error unwound past, innermost first. SL_EARG for any other depth. */
SL_API sl_status sl_scope_at(sl_isolate *iso, uint32_t depth, sl_scope *out);
/* Where a Local lives: its scope depth and serial (works for stale Locals too). */
SL_API void sl_local_scope(sl_local h, uint32_t *depth, uint64_t *serial);

/* Soft watch: calls 'hook' once per scope when the scope's own handle count first
** exceeds 'threshold' (0 turns the watch off). The hook may not call the API. */
typedef void (*sl_watch_hook)(sl_isolate *iso, const sl_scope_info *scope, void *ud);
SL_API void sl_watch_handles(sl_isolate *iso, size_t threshold, sl_watch_hook hook,
                             void *ud);

/* ------------------------------------------------------------------ persistent */

/* A persistent (global) handle: a node that outlives every scope. Copyable by value;
** the node is freed by sl_persistent_delete. A stale copy is detected by 'serial',
** one of another isolate by 'iso' (SL_EISOLATE; serials are also drawn from a
** per-isolate range, so a handle of a disposed isolate is refused unread). */
typedef struct sl_persistent {
  sl_isolate *iso;
  sl_node *node;
  uint64_t serial;
} sl_persistent;

typedef void (*sl_weak_callback)(sl_isolate *iso, sl_persistent p, void *param);

/* A new strong node holding h's object (empty if h is empty). */
SL_API sl_status sl_persistent_new(sl_isolate *iso, sl_local h, sl_persistent *out);
/* Re-targets the node to h's object (or empty), strong again (V8's Reset). */
SL_API sl_status sl_persistent_reset(sl_isolate *iso, sl_persistent p, sl_local h);
/* Frees the node; any copy of 'p' becomes invalid (SL_EARG). */
SL_API sl_status sl_persistent_delete(sl_isolate *iso, sl_persistent p);
/* A new Local in the innermost scope (empty when the node is empty). */
SL_API sl_status sl_persistent_get(sl_isolate *iso, sl_persistent p, sl_local *out);
/* *out = 1 when the node holds no object. */
SL_API sl_status sl_persistent_is_empty(sl_isolate *iso, sl_persistent p, int *out);
/* Weak: not a root. When a collection finds the object dead the node is emptied,
** then, after the collection, 'cb' (may be NULL) runs once with 'param', in the
** order nodes were made weak. Callbacks may use the whole API; a callback whose
** node an earlier callback deleted, reset or made weak/strong again is skipped. */
SL_API sl_status sl_persistent_set_weak(sl_isolate *iso, sl_persistent p,
                                        sl_weak_callback cb, void *param);
/* Two-pass weak callbacks (V8's SetWeak(parameter, callback, type)). The first
** pass runs during the collection: it may reset persistents and read values,
** and must reset this handle; anything that allocates, makes a handle or a
** persistent, opens or closes a scope or collects is refused (SL_ESTATE "not
** allowed in a first-pass weak callback"). A first pass that leaves its handle
** set fails the collection with "Handle not reset in first callback" after the
** engine reset it. The second pass may use the whole API: it runs right after a
** forced collection (sl_collect), and is otherwise queued as a task. */
typedef enum sl_weak_type {
  SL_WEAK_PARAMETER = 1,     /* the callback gets 'param' */
  SL_WEAK_INTERNAL_FIELDS    /* and the aligned pointers of fields 0 and 1 */
} sl_weak_type;
typedef struct sl_weak_info sl_weak_info;
typedef void (*sl_weak_pass)(const sl_weak_info *info);

/* Makes 'p' weak with a first-pass callback. */
SL_API sl_status sl_persistent_set_weak_two_pass(sl_isolate *iso, sl_persistent p,
                                                 sl_weak_pass first_pass, void *param,
                                                 sl_weak_type type);
/* The isolate. */
SL_API sl_isolate *sl_weak_info_isolate(const sl_weak_info *w);
/* The parameter given to sl_persistent_set_weak_two_pass. */
SL_API void *sl_weak_info_parameter(const sl_weak_info *w);
/* The persistent whose object died. */
SL_API sl_persistent sl_weak_info_handle(const sl_weak_info *w);
/* With SL_WEAK_INTERNAL_FIELDS: the aligned pointer field i (0 or 1) held;
** SL_EARG "internal field out of bounds" for any other i. */
SL_API sl_status sl_weak_info_internal_field(const sl_weak_info *w, int i, void **out);
/* From a first pass: run 'second' later (SL_ESTATE from a second pass). */
SL_API sl_status sl_weak_info_set_second_pass(const sl_weak_info *w, sl_weak_pass second);
/* 1 in a second pass. */
SL_API int sl_weak_info_is_second_pass(const sl_weak_info *w);

/* Strong again; '*param' (if not NULL) gets the parameter set_weak was given. */
SL_API sl_status sl_persistent_clear_weak(sl_isolate *iso, sl_persistent p, void **param);
/* *out = 1 while the node is weak. */
SL_API sl_status sl_persistent_is_weak(sl_isolate *iso, sl_persistent p, int *out);
/* Tags the node for diagnostics (an embedder-defined site number). */
SL_API sl_status sl_persistent_set_site(sl_isolate *iso, sl_persistent p, uint32_t site);
/* The node's site (0 if never set). */
SL_API sl_status sl_persistent_site(sl_isolate *iso, sl_persistent p, uint32_t *site);

/* ------------------------------------------------------------------ eternal */

/* A root for h's object that lives as long as the isolate; '*index' names it. */
SL_API sl_status sl_eternal_new(sl_isolate *iso, sl_local h, size_t *index);
/* A Local bound to the eternal slot itself (V8's Eternal::Get): no handle is
** created, so it works with no scope open and under a seal. */
SL_API sl_status sl_eternal_get(sl_isolate *iso, size_t index, sl_local *out);
/* Eternal handles made so far (they are never freed). */
SL_API size_t sl_eternal_count(const sl_isolate *iso);

/* ------------------------------------------------------------------ probes */

/* An observer of one object: sees it move and die, never keeps it alive. */
typedef struct sl_probe {
  sl_isolate *iso;
  sl_node *node;
  uint64_t serial;
} sl_probe;

typedef struct sl_probe_info {
  int alive;
  uintptr_t address;   /* 0 when dead */
  uint64_t moves;      /* times the object moved since the probe was made */
  uint64_t id;
  sl_kind kind;
  sl_generation generation;  /* meaningful while alive */
} sl_probe_info;

/* A probe of h's object. */
SL_API sl_status sl_probe_new(sl_isolate *iso, sl_local h, sl_probe *out);
/* What the probe has seen. */
SL_API sl_status sl_probe_info_of(sl_isolate *iso, sl_probe p, sl_probe_info *out);
/* A new Local for a live probe's object (empty when dead). */
SL_API sl_status sl_probe_get(sl_isolate *iso, sl_probe p, sl_local *out);
/* Frees the probe's node. */
SL_API sl_status sl_probe_delete(sl_isolate *iso, sl_probe p);

/* ------------------------------------------------------------------ collection */

#define SL_MINOR 1
#define SL_MAJOR 2

/* Why a collection ran. */
typedef enum sl_gc_reason {
  SL_GC_REQUESTED = 1,          /* sl_collect */
  SL_GC_ALLOCATION_FAILURE,     /* a space was full */
  SL_GC_OLD_GENERATION_GROWTH,  /* old space grew past heap_growing_factor */
  SL_GC_EXTERNAL_MEMORY,        /* external memory grew past its limit */
  SL_GC_STRESS                  /* gc_interval or gc_at */
} sl_gc_reason;
/* "requested", "allocation failure", "old generation growth", "external
** memory", "stress". */
SL_API const char *sl_gc_reason_name(sl_gc_reason r);

typedef struct sl_gc_stats {
  int kind;                  /* SL_MINOR or SL_MAJOR */
  uint64_t number;           /* 1-based count of collections of any kind */
  size_t bytes_before;       /* young + old used before */
  size_t bytes_after;
  size_t freed_bytes;
  size_t moved;              /* objects whose address changed */
  size_t promoted;           /* objects moved young -> old */
  size_t survived;           /* objects live after the collection (scanned gens) */
  size_t handles_scanned;    /* Local slots visited as roots */
  size_t nodes_scanned;      /* persistent nodes and probes visited: a scavenge
                                visits only those holding young objects */
  size_t weak_cleared;       /* weak nodes emptied */
  size_t callbacks_run;      /* weak callbacks run after this collection */
  uint64_t duration_ns;      /* the collection itself, without callbacks */
  sl_gc_reason reason;
  size_t first_passes_run;   /* first-pass weak callbacks run in it */
} sl_gc_stats;

/* SL_MINOR, SL_MAJOR, or both (a minor then a major; 'out' describes the major).
** A forced collection: every second-pass weak callback pending runs after it. */
SL_API sl_status sl_collect(sl_isolate *iso, int kinds, sl_gc_stats *out);

/* V8's AdjustAmountOfExternalAllocatedMemory: native memory kept alive by heap
** objects. '*total' (if not NULL) gets the new total. Past the isolate's
** external_memory_limit since the last full collection, the next allocation
** runs one. */
SL_API sl_status sl_adjust_external_memory(sl_isolate *iso, int64_t delta, int64_t *total);

/* ------------------------------------------------------------------ tasks */

/* The isolate's foreground task queue (what V8 posts to the platform): queued
** second-pass weak callbacks, and the embedder's own tasks. */
typedef void (*sl_task_fn)(sl_isolate *iso, void *ud);
/* Queues 'fn(iso, ud)' to run at the next sl_run_tasks. */
SL_API sl_status sl_post_task(sl_isolate *iso, sl_task_fn fn, void *ud);
/* Runs the tasks pending now (those they post wait for the next call); '*ran'
** (if not NULL) gets how many ran. */
SL_API sl_status sl_run_tasks(sl_isolate *iso, size_t *ran);
/* Tasks waiting to run. */
SL_API size_t sl_pending_tasks(const sl_isolate *iso);

typedef struct sl_heap_stats {
  size_t handles;            /* sl_number_of_handles */
  uint32_t scope_level;      /* V8's level: open handle scopes */
  uint32_t scope_depth;      /* open scopes of every kind */
  size_t blocks;             /* handle blocks in use */
  size_t spare_blocks;       /* 0 or 1 */
  size_t block_size;
  size_t young_used, young_size;
  size_t old_used, old_size;
  size_t persistent_handles; /* non-empty persistent nodes (strong or weak) */
  size_t weak_handles;
  size_t probes;
  size_t eternal_handles;
  size_t remembered;         /* old objects in the remembered set */
  uint64_t minor_collections, major_collections;
  uint64_t allocations;      /* objects allocated since creation */
  uint64_t bytes_allocated;
  uint64_t objects_moved;    /* total moves over all collections */
  uint64_t weak_callbacks_run;
  int64_t external_memory;   /* sl_adjust_external_memory's total */
  size_t pending_tasks;      /* sl_pending_tasks */
  uint64_t tasks_run;
  size_t names;              /* internalized strings */
} sl_heap_stats;

/* The isolate's counters now. */
SL_API void sl_heap_stats_of(const sl_isolate *iso, sl_heap_stats *out);
/* SL_OK, or SL_ECORRUPT with the first broken invariant in sl_last_error(). */
SL_API sl_status sl_verify_heap(sl_isolate *iso);

/* ------------------------------------------------------------------ observing */

/* After every collection (before weak callbacks). Must not call the API. */
typedef void (*sl_gc_hook)(sl_isolate *iso, const sl_gc_stats *st, void *ud);
/* Installs (or, with NULL, removes) the collection hook. */
SL_API void sl_set_gc_hook(sl_isolate *iso, sl_gc_hook hook, void *ud);

/* For every object that moves, during a collection. Must not call the API. */
typedef void (*sl_move_hook)(sl_isolate *iso, uint64_t id, uintptr_t from,
                             uintptr_t to, uint64_t collection, void *ud);
/* Installs (or, with NULL, removes) the move hook. */
SL_API void sl_set_move_hook(sl_isolate *iso, sl_move_hook hook, void *ud);

typedef struct sl_object_info {
  uint64_t id;
  sl_kind kind;
  sl_generation generation;
  size_t size;          /* bytes, header included */
  size_t length;        /* string bytes, array slots, internal fields of an
                           object, slots of a property store; else 0 */
  uintptr_t address;
} sl_object_info;

/* Every object in the heap, live or not yet collected (not the read-only roots).
** 'cb' must not call the API;
** returning non-zero stops the walk. */
typedef int (*sl_object_visitor)(const sl_object_info *o, void *ud);
SL_API void sl_heap_foreach(sl_isolate *iso, sl_object_visitor cb, void *ud);

typedef enum sl_root_kind {
  SL_ROOT_LOCAL = 1, SL_ROOT_PERSISTENT, SL_ROOT_ETERNAL, SL_ROOT_REMEMBERED,
  SL_ROOT_FRAME        /* a call's receiver, arguments and return value */
} sl_root_kind;

typedef struct sl_root_info {
  sl_root_kind kind;
  uint32_t depth;      /* LOCAL: scope stack depth owning the slot */
  uint32_t level;      /* LOCAL: that scope's level */
  uint32_t site;       /* LOCAL: the scope's site; PERSISTENT: the node's site */
  size_t index;        /* LOCAL: slot index within the scope (0-based);
                          PERSISTENT: node number; ETERNAL: index */
} sl_root_info;

/* Every root slot that holds an object. Returning non-zero stops the walk. */
typedef int (*sl_root_visitor)(const sl_root_info *r, const sl_object_info *o, void *ud);
SL_API void sl_roots_foreach(sl_isolate *iso, sl_root_visitor cb, void *ud);

/* How steps[i-1] of a path refers to steps[i]. */
typedef enum sl_edge_kind {
  SL_EDGE_ELEMENT = 1,       /* an array element: index */
  SL_EDGE_PROPERTY,          /* a named property: name */
  SL_EDGE_INTERNAL_FIELD,    /* an internal field: index */
  SL_EDGE_DATA,              /* a function's data */
  SL_EDGE_NAME               /* a function's name */
} sl_edge_kind;

/* The shortest chain of references from a root to the object with identity 'id'.
** steps[0] is the object the root refers to, steps[n-1] the target; edge[i],
** index[i] and name[i] say how steps[i-1] refers to steps[i] ([0] unused).
** An object's property store is not a step: the edge names the property. */
typedef struct sl_path {
  sl_root_info root;
  size_t n;
  sl_object_info *steps;
  size_t *index;
  sl_edge_kind *edge;
  char **name;               /* SL_EDGE_PROPERTY: the key (NUL-terminated), else NULL */
} sl_path;

/* SL_OK with a path, SL_EARG if no live object has this id or none reaches it
** (then path->n == 0). Free with sl_path_free. */
SL_API sl_status sl_retaining_path(sl_isolate *iso, uint64_t id, sl_path *path);
/* Frees what sl_retaining_path allocated. */
SL_API void sl_path_free(sl_path *path);

/* Every persistent node in use (empty ones included), in creation order of
** their blocks. 'id' is 0 for an empty node. Returning non-zero stops the walk. */
typedef int (*sl_persistent_visitor)(sl_persistent p, uint32_t site, int weak,
                                     uint64_t id, void *ud);
SL_API void sl_persistent_foreach(sl_isolate *iso, sl_persistent_visitor cb, void *ud);

#ifdef __cplusplus
}
#endif

/* The layout behind the inline calls, and their bodies. */
#include "scopelab_internal.h"

#endif
