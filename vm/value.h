/* value.h — the run-time value representation (SPEC §4.1) and its inline
** helpers.
**
** A value is 16 bytes: a tag and a 64-bit payload. Immediates (Int, Float,
** Bool, Char, Unit, [], nullary constructors, Pid, Socket, builtin and
** constructor-function references) never allocate. Every other value points
** to a heap object (hk_obj_t header first).
**
** Objects live in the heap of one VM instance (vm/heap.c) and are MOVED by
** the copying collector. The collector runs only at safe points of the
** interpreter, never inside a builtin or any allocation function, so C code
** called from the interpreter (builtins) may keep any number of hk_value_t in
** C locals for the duration of its call (see vm/vm.h, "Allocation").
** Objects with HK_OBJ_STATIC (string literals of the program, the shared
** global store) are never moved nor counted.
**
** Thread: values belong to the VM instance whose heap holds them. */
#ifndef HK_VALUE_H
#define HK_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Tags. Order matters: tags >= HK_T__OBJ point to heap objects. */
typedef enum hk_tag {
  HK_T_UNINIT = 0, /* internal: an uninitialised global slot; never a program value */
  HK_T_INT,        /* as.i */
  HK_T_FLOAT,      /* as.f */
  HK_T_BOOL,       /* as.i: 0 or 1 */
  HK_T_CHAR,       /* as.u: a scalar */
  HK_T_UNIT,
  HK_T_NIL,        /* [] (kind List) */
  HK_T_DATA0,      /* nullary constructor: as.u = program-wide constructor index */
  HK_T_PID,        /* as.u: pid number */
  HK_T_SOCKET,     /* as.u: runtime socket number */
  HK_T_BUILTIN,    /* builtin function: as.u = hk_builtin_id_t (or a registered native) */
  HK_T_CTORFN,     /* constructor with payload used as a function: as.u = ctor index */
  HK_T__OBJ,
  HK_T_STRING = HK_T__OBJ, /* hk_string_t */
  HK_T_BYTES,      /* hk_string_t (same layout) */
  HK_T_TUPLE,      /* hk_tuple_t */
  HK_T_CONS,       /* hk_cons_t (kind List) */
  HK_T_DATA,       /* hk_data_t: constructor with payload */
  HK_T_CLOSURE,    /* hk_closure_t (kind Function) */
  HK_T_PAP,        /* hk_pap_t: partial application of a multi-argument fun */
  HK_T_CONT,       /* hk_cont_t: continuation */
  HK_T_RNG,        /* hk_rng_t */
  HK_T__COUNT
} hk_tag_t;

/* Object header (8 bytes). [n] depends on the tag: string/bytes: unused
** (length is in the object), tuple: components, data: constructor index,
** closure: captures, pap: arguments held. */
typedef struct hk_obj {
  uint8_t tag;    /* hk_tag_t */
  uint8_t flags;  /* HK_OBJ_* */
  uint16_t spare;
  uint32_t n;
} hk_obj_t;

enum {
  HK_OBJ_STATIC = 1,    /* not in any process heap: never moved, not counted */
  HK_OBJ_FORWARDED = 2, /* GC internal */
  HK_OBJ_RESUMED = 4,   /* continuation: already resumed */
};

typedef struct hk_value {
  uint32_t tag; /* hk_tag_t */
  uint32_t aux; /* reserved, always 0 */
  union {
    int64_t i;
    uint64_t u;
    double f;
    hk_obj_t *o;
  } as;
} hk_value_t;

/* String and Bytes: [len] bytes followed by a NUL (not counted). A String's
** bytes are always valid UTF-8. */
typedef struct hk_string {
  hk_obj_t h;
  uint64_t len;
  char data[];
} hk_string_t;

typedef struct hk_tuple {
  hk_obj_t h; /* h.n components (>= 2) */
  hk_value_t items[];
} hk_tuple_t;

typedef struct hk_cons {
  hk_obj_t h;
  hk_value_t head, tail;
} hk_cons_t;

typedef struct hk_data {
  hk_obj_t h; /* h.n = program-wide constructor index */
  hk_value_t payload;
} hk_data_t;

typedef struct hk_closure {
  hk_obj_t h;  /* h.n = captures */
  uint32_t fn; /* function index in the program image */
  uint32_t spare;
  hk_value_t caps[];
} hk_closure_t;

typedef struct hk_pap {
  hk_obj_t h;    /* h.n = arguments held (< the function's arity) */
  hk_value_t fn; /* the closure */
  hk_value_t args[];
} hk_pap_t;

struct hk_seg;
typedef struct hk_cont {
  hk_obj_t h;             /* flags: HK_OBJ_RESUMED */
  struct hk_seg *top;     /* the detached stack segments, top ... bottom */
  struct hk_seg *bottom;  /* the segment of the handler H */
  uint32_t c0;            /* active handlers outside H at the perform (SPEC §4.9.3) */
  uint32_t nframes;       /* frames held */
  struct hk_cont *next;   /* heap-internal list of live continuations */
} hk_cont_t;

/* PCG32 state (SPEC §8.10). */
typedef struct hk_rng {
  hk_obj_t h;
  uint64_t state, inc;
} hk_rng_t;

/* ---- Immediates ---------------------------------------------------------- */

static inline hk_value_t hk_mk(hk_tag_t tag, uint64_t u) {
  hk_value_t v;
  v.tag = (uint32_t)tag;
  v.aux = 0;
  v.as.u = u;
  return v;
}
static inline hk_value_t hk_int(int64_t i) { hk_value_t v = hk_mk(HK_T_INT, 0); v.as.i = i; return v; }
static inline hk_value_t hk_float(double f) { hk_value_t v = hk_mk(HK_T_FLOAT, 0); v.as.f = f; return v; }
static inline hk_value_t hk_bool(bool b) { return hk_mk(HK_T_BOOL, b ? 1u : 0u); }
static inline hk_value_t hk_char(uint32_t c) { return hk_mk(HK_T_CHAR, c); }
static inline hk_value_t hk_unit(void) { return hk_mk(HK_T_UNIT, 0); }
static inline hk_value_t hk_nil(void) { return hk_mk(HK_T_NIL, 0); }
static inline hk_value_t hk_data0(uint32_t ctor) { return hk_mk(HK_T_DATA0, ctor); }
static inline hk_value_t hk_pid(uint64_t pid) { return hk_mk(HK_T_PID, pid); }
static inline hk_value_t hk_socket(uint64_t s) { return hk_mk(HK_T_SOCKET, s); }
static inline hk_value_t hk_builtin_ref(uint32_t id) { return hk_mk(HK_T_BUILTIN, id); }
static inline hk_value_t hk_obj_value(hk_obj_t *o) {
  hk_value_t v = hk_mk((hk_tag_t)o->tag, 0);
  v.as.o = o;
  return v;
}

/* ---- Tests and accessors (no checks: test the tag first) ----------------- */

static inline bool hk_is_obj(hk_value_t v) { return v.tag >= HK_T__OBJ; }
static inline bool hk_is_int(hk_value_t v) { return v.tag == HK_T_INT; }
static inline bool hk_is_float(hk_value_t v) { return v.tag == HK_T_FLOAT; }
static inline bool hk_is_bool(hk_value_t v) { return v.tag == HK_T_BOOL; }
static inline bool hk_is_char(hk_value_t v) { return v.tag == HK_T_CHAR; }
static inline bool hk_is_unit(hk_value_t v) { return v.tag == HK_T_UNIT; }
static inline bool hk_is_string(hk_value_t v) { return v.tag == HK_T_STRING; }
static inline bool hk_is_bytes(hk_value_t v) { return v.tag == HK_T_BYTES; }
static inline bool hk_is_tuple(hk_value_t v) { return v.tag == HK_T_TUPLE; }
static inline bool hk_is_list(hk_value_t v) { return v.tag == HK_T_NIL || v.tag == HK_T_CONS; }
static inline bool hk_is_data(hk_value_t v) { return v.tag == HK_T_DATA || v.tag == HK_T_DATA0; }
static inline bool hk_is_function(hk_value_t v) {
  return v.tag == HK_T_CLOSURE || v.tag == HK_T_PAP || v.tag == HK_T_BUILTIN || v.tag == HK_T_CTORFN;
}

static inline int64_t hk_as_int(hk_value_t v) { return v.as.i; }
static inline double hk_as_float(hk_value_t v) { return v.as.f; }
static inline bool hk_as_bool(hk_value_t v) { return v.as.u != 0; }
static inline uint32_t hk_as_char(hk_value_t v) { return (uint32_t)v.as.u; }
static inline hk_string_t *hk_as_string(hk_value_t v) { return (hk_string_t *)v.as.o; } /* String or Bytes */
static inline const char *hk_str_data(hk_value_t v) { return hk_as_string(v)->data; }
static inline size_t hk_str_len(hk_value_t v) { return (size_t)hk_as_string(v)->len; }
static inline hk_tuple_t *hk_as_tuple(hk_value_t v) { return (hk_tuple_t *)v.as.o; }
static inline uint32_t hk_tuple_len(hk_value_t v) { return v.as.o->n; }
static inline hk_value_t hk_tuple_at(hk_value_t v, uint32_t i) { return hk_as_tuple(v)->items[i]; }
static inline hk_cons_t *hk_as_cons(hk_value_t v) { return (hk_cons_t *)v.as.o; }
static inline hk_value_t hk_head(hk_value_t v) { return hk_as_cons(v)->head; }
static inline hk_value_t hk_tail(hk_value_t v) { return hk_as_cons(v)->tail; }
static inline hk_data_t *hk_as_data(hk_value_t v) { return (hk_data_t *)v.as.o; }
/* Constructor index of a Data value (nullary or not). */
static inline uint32_t hk_data_ctor(hk_value_t v) {
  return v.tag == HK_T_DATA0 ? (uint32_t)v.as.u : v.as.o->n;
}
static inline hk_rng_t *hk_as_rng(hk_value_t v) { return (hk_rng_t *)v.as.o; }

/* Identity: same tag and same payload bits (immediates by value, objects by
** address). Equality of SPEC §4.7 is hk_value_equal (vm/vm.h). */
static inline bool hk_same(hk_value_t a, hk_value_t b) {
  return a.tag == b.tag && a.as.u == b.as.u;
}

/* The kind name of SPEC §4.1 for messages "expected K, got K2": Int, Float,
** Bool, Char, Unit, String, Bytes, Tuple, List, Data, Function,
** Continuation, Pid, Socket, Rng. Returns a static string. Thread: any. */
const char *hk_kind_name(hk_value_t v);
const char *hk_tag_kind_name(uint32_t tag);

#endif
