/* heap_test.c — the per-process heap and copying collector (vm/heap.c):
** objects reachable only from each kind of root survive with their
** contents, unreachable ones are freed, deep structures need no recursion,
** and message blocks copy and adopt values (with closure cycles). */
#include <criterion/criterion.h>
#include <malloc.h>

#include "test/vm/core_util.h"
#include "vm/bcache.h"

static hk_image_t *img;
static hk_vm_t *vm;

static void setup(void) {
  img = tc_image(1, 4);
  static const uint32_t code[] = {I(UNIT, 0), I(RET, 0)};
  tc_func(img, 0, "main", 0, 2, 4, code, 2);
  cr_assert_eq(hk_vm_new(&vm, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(vm), 0);
}
static void teardown(void) {
  hk_vm_free(vm);
  hk_image_free(img);
}

TestSuite(vm_heap, .init = setup, .fini = teardown);

/* A list n, n-1, ..., 1. */
static hk_value_t list_of(uint32_t n) {
  hk_value_t l = hk_nil();
  for (uint32_t i = 1; i <= n; i++) cr_assert_eq(hk_alloc_cons(vm, hk_int(i), l, &l), 0);
  return l;
}

static int64_t list_sum(hk_value_t l, uint64_t *len) {
  int64_t s = 0;
  *len = 0;
  for (; l.tag == HK_T_CONS; l = hk_tail(l)) {
    s += hk_as_int(hk_head(l));
    (*len)++;
  }
  cr_assert_eq(l.tag, HK_T_NIL);
  return s;
}

Test(vm_heap, unreachable_objects_are_freed) {
  (void)list_of(1000);
  cr_assert_eq(hk_heap_objects(vm), 1000);
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 0);
}

Test(vm_heap, global_root_survives) {
  vm->globals[2] = list_of(1000);
  (void)list_of(500); /* garbage */
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 1000);
  uint64_t len;
  cr_assert_eq(list_sum(vm->globals[2], &len), 500500);
  cr_assert_eq(len, 1000);
}

Test(vm_heap, stack_root_survives) {
  hk_seg_t *s = vm->seg;
  hk_value_t str;
  cr_assert_eq(hk_alloc_string(vm, "hello", 5, &str), 0);
  hk_value_t items[2] = {str, hk_int(7)};
  hk_value_t t;
  cr_assert_eq(hk_alloc_tuple(vm, 2, items, &t), 0);
  s->vals[s->sp++] = t;
  (void)list_of(10);
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 2);
  t = s->vals[s->sp - 1];
  cr_assert_eq(t.tag, HK_T_TUPLE);
  cr_assert_str_eq(hk_str_data(hk_tuple_at(t, 0)), "hello");
  cr_assert_eq(hk_as_int(hk_tuple_at(t, 1)), 7);
}

Test(vm_heap, frame_closure_root_survives) {
  hk_closure_t *c = (hk_closure_t *)hk_heap_alloc(vm, sizeof(hk_closure_t) + sizeof(hk_value_t),
                                                  HK_T_CLOSURE);
  c->h.n = 1;
  c->fn = 0;
  c->caps[0] = list_of(3);
  c->fn = 5;
  /* The frame's word: the closure with the result-slot bit (vm_int.h). */
  vm->seg->frames[0].fc = hk_fc(5, &c->h, 1, 1);
  cr_assert_eq(hk_fc_clos(vm->seg->frames[0].fc), &c->h);
  cr_assert_eq(hk_frame_ret(&vm->seg->frames[0]), vm->seg->frames[0].base);
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 4);
  hk_closure_t *n = (hk_closure_t *)hk_fc_clos(vm->seg->frames[0].fc);
  cr_assert_neq(n, c);
  cr_assert(vm->seg->frames[0].fc & HK_FC_AT_BASE, "the collection keeps the result-slot bit");
  cr_assert_eq(hk_frame_fn(&vm->seg->frames[0]), 5);
  uint64_t len;
  cr_assert_eq(list_sum(n->caps[0], &len), 6);
}

Test(vm_heap, request_and_result_roots_survive) {
  vm->h.arg = list_of(4);
  hk_value_t garbage = list_of(3);
  (void)garbage;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 4);
  uint64_t len;
  cr_assert_eq(list_sum(vm->h.arg, &len), 10);
  /* The result of a finished instance shares the request's room. */
  vm->h.arg = list_of(5);
  vm->state = HK_VS_DONE;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 5);
  cr_assert_eq(list_sum(hk_vm_result(vm), &len), 15);
}

Test(vm_heap, static_strings_are_not_moved_or_counted) {
  hk_value_t s;
  cr_assert_eq(hk_image_string(img, "lit", 3, &s), 0);
  hk_value_t l;
  cr_assert_eq(hk_alloc_cons(vm, s, hk_nil(), &l), 0);
  vm->globals[0] = l;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 1);
  cr_assert_eq(hk_head(vm->globals[0]).as.o, s.as.o);
}

Test(vm_heap, deep_list_and_deep_nesting_collect_iteratively) {
  vm->globals[0] = list_of(1000000);
  hk_value_t d = hk_int(0);
  for (int i = 0; i < 300000; i++) cr_assert_eq(hk_alloc_data(vm, 0, d, &d), 0);
  vm->globals[1] = d;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 1300000);
  uint64_t len;
  cr_assert_eq(list_sum(vm->globals[0], &len), (int64_t)1000000 * 1000001 / 2);
  int depth = 0;
  for (d = vm->globals[1]; d.tag == HK_T_DATA; d = hk_as_data(d)->payload) depth++;
  cr_assert_eq(depth, 300000);
  cr_assert_eq(vm->x->gc_runs, 2);
}

Test(vm_heap, sharing_is_preserved_by_collection) {
  hk_value_t shared = list_of(3);
  hk_value_t items[2] = {shared, shared};
  hk_value_t t;
  cr_assert_eq(hk_alloc_tuple(vm, 2, items, &t), 0);
  vm->globals[0] = t;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 4);
  cr_assert_eq(hk_tuple_at(vm->globals[0], 0).as.o, hk_tuple_at(vm->globals[0], 1).as.o);
}

Test(vm_heap, message_copy_and_adopt) {
  /* A closure capturing itself (a recursive local function) and a list. */
  hk_closure_t *c = (hk_closure_t *)hk_heap_alloc(vm, sizeof(hk_closure_t) + 2 * sizeof(hk_value_t),
                                                  HK_T_CLOSURE);
  c->h.n = 2;
  c->fn = 0;
  c->caps[0] = hk_obj_value(&c->h);
  c->caps[1] = list_of(100);
  hk_value_t shared = list_of(2);
  hk_value_t items[3] = {hk_obj_value(&c->h), shared, shared};
  hk_value_t t;
  cr_assert_eq(hk_alloc_tuple(vm, 3, items, &t), 0);
  hk_msg_t *m;
  cr_assert_eq(hk_value_copy_out(vm, t, 0, &m), 0);
  /* tuple + closure + 100 cells + the shared list twice (sharing expanded) */
  cr_assert_eq(hk_msg_objects(m), 1 + 1 + 100 + 2 + 2);

  hk_vm_t *other;
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  hk_value_t got;
  cr_assert_eq(hk_vm_adopt(other, m, &got), 0);
  other->globals[0] = got;
  cr_assert_eq(hk_heap_collect(other), 0); /* moves the live part out of the fragment */
  got = other->globals[0];
  cr_assert_eq(got.tag, HK_T_TUPLE);
  hk_value_t clo = hk_tuple_at(got, 0);
  cr_assert_eq(clo.tag, HK_T_CLOSURE);
  hk_closure_t *nc = (hk_closure_t *)clo.as.o;
  cr_assert_eq(nc->caps[0].as.o, clo.as.o, "the cycle is kept");
  uint64_t len;
  cr_assert_eq(list_sum(nc->caps[1], &len), 5050);
  cr_assert_eq(list_sum(hk_tuple_at(got, 2), &len), 3);
  cr_assert_eq(hk_heap_objects(other), 106);
  hk_vm_free(other);
}

Test(vm_heap, message_limits) {
  hk_value_t l = list_of(50);
  hk_msg_t *m = NULL;
  cr_assert_eq(hk_value_copy_out(vm, l, 10, &m), -E2BIG);
  hk_cont_t *k = (hk_cont_t *)hk_heap_alloc(vm, sizeof(hk_cont_t), HK_T_CONT);
  memset(&k->top, 0, sizeof *k - sizeof k->h);
  hk_value_t kl;
  cr_assert_eq(hk_alloc_cons(vm, hk_obj_value(&k->h), hk_nil(), &kl), 0);
  cr_assert_eq(hk_value_copy_out(vm, kl, 0, &m), -EINVAL);
}

/* Slot [i] as a child that joined [g] before now reads it. */
static hk_value_t child_slot_after_refresh(hk_vm_t *root, hk_globals_t *g, uint32_t i) {
  (void)root;
  hk_vm_t *child;
  cr_assert_eq(hk_vm_new(&child, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(child), 0);
  cr_assert_eq(hk_vm_use_globals(child, g), 0);
  hk_vm_globals_refresh(child);
  hk_value_t v = child->globals[i];
  hk_vm_free(child);
  return v;
}

/* A child that joined the store before a later export finds the later
** global after a refresh; its old array stays valid (SPEC §6.4.3). */
Test(vm_heap, global_store_later_export_reaches_earlier_child) {
  vm->globals[0] = hk_int(1);
  hk_globals_t *g = NULL;
  cr_assert_eq(hk_globals_export(vm, &g), 0);
  hk_vm_t *child;
  cr_assert_eq(hk_vm_new(&child, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(child), 0);
  cr_assert_eq(hk_vm_use_globals(child, g), 0);
  cr_assert_not(hk_vm_globals_refresh(child), "nothing newer yet");
  hk_value_t *old = child->globals;
  cr_assert_eq(old[1].tag, HK_T_UNINIT);
  cr_assert_eq(hk_alloc_string(vm, "late", 4, &vm->globals[1]), 0);
  hk_vm_global_set(vm, 1); /* as SETGLOBAL does */
  cr_assert(hk_vm_globals_dirty(vm));
  cr_assert_eq(hk_globals_export(vm, &g), 0);
  cr_assert_not(hk_vm_globals_dirty(vm));
  cr_assert_eq(old[1].tag, HK_T_UNINIT, "a published array is never written");
  cr_assert(hk_vm_globals_refresh(child));
  cr_assert_eq(child->globals[1].tag, HK_T_STRING);
  cr_assert(child->globals[1].as.o->flags & HK_OBJ_STATIC);
  cr_assert_eq(hk_as_int(child->globals[0]), 1);
  hk_vm_free(child);
  hk_globals_free(g);
}

/* A child spawning shares its own array with its child (no lock, one more
** reference): an array the store has since replaced keeps its contents for
** both, the grandchild reaches a later export by a refresh, and a root
** cannot be shared from (SPEC §6.4.3, §10.6.5). */
Test(vm_heap, global_store_child_shares_its_array) {
  vm->globals[0] = hk_int(7);
  hk_globals_t *g = NULL;
  cr_assert_eq(hk_globals_export(vm, &g), 0);
  hk_vm_t *child, *grand, *other;
  cr_assert_eq(hk_vm_new(&child, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(child), 0);
  cr_assert_eq(hk_vm_use_globals(child, g), 0);
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  cr_assert_eq(hk_vm_share_globals(other, vm), -EINVAL, "a root's slots are its own");
  hk_vm_free(other);
  cr_assert_eq(hk_alloc_string(vm, "late", 4, &vm->globals[1]), 0);
  hk_vm_global_set(vm, 1);
  cr_assert_eq(hk_globals_export(vm, &g), 0); /* a new array: child holds the old */
  cr_assert_eq(hk_vm_new(&grand, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(grand), 0);
  cr_assert_eq(hk_vm_share_globals(grand, child), 0);
  cr_assert_eq(grand->globals, child->globals, "the parent's array, not a copy");
  cr_assert_eq(hk_vm_gstore(grand), g);
  hk_vm_free(child); /* grand's reference keeps the old array */
  cr_assert_eq(hk_as_int(grand->globals[0]), 7);
  cr_assert_eq(grand->globals[1].tag, HK_T_UNINIT);
  cr_assert(hk_vm_globals_refresh(grand));
  cr_assert_eq(grand->globals[1].tag, HK_T_STRING);
  cr_assert_eq(hk_as_int(grand->globals[0]), 7);
  hk_vm_free(grand);
  hk_globals_free(g);
}

/* A large value is copied in one pass into a chain of chunks: the whole
** chain is counted, adopted and collected, and an error found late in the
** copy (after several chunks) frees what was copied (ASan checks leaks). */
Test(vm_heap, large_message_is_a_chain_of_chunks) {
  hk_value_t l = list_of(100000);
  hk_msg_t *m = NULL;
  cr_assert_eq(hk_value_copy_out(vm, l, 100000 - 1, &m), -E2BIG);
  cr_assert_eq(hk_value_copy_out(vm, l, 100000, &m), 0);
  cr_assert_eq(hk_msg_objects(m), 100000);
  /* The count lives in the root value's aux (a chunk header has no room);
  ** a saturated one is counted along the chain instead. */
  hk_value_t *root = (hk_value_t *)(void *)((hk_chunk_t *)(void *)m)->data;
  cr_assert_eq(root->aux, 100000);
  root->aux = UINT32_MAX;
  cr_assert_eq(hk_msg_objects(m), 100000, "counted along the chain");
  hk_vm_t *other;
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  hk_value_t got;
  int64_t gc_left = other->heap.gc_left;
  cr_assert_eq(hk_vm_adopt(other, m, &got), 0);
  cr_assert_eq(hk_heap_objects(other), 100000);
  cr_assert_eq(got.aux, 0, "the adopted value is a plain value");
  cr_assert_leq(other->heap.gc_left, gc_left - (int64_t)(100000 * sizeof(hk_cons_t)));
  uint64_t len;
  cr_assert_eq(list_sum(got, &len), (int64_t)100000 * 100001 / 2);
  cr_assert_eq(len, 100000);
  other->globals[0] = got;
  cr_assert_eq(hk_heap_collect(other), 0); /* frees every chunk of the chain */
  cr_assert_eq(list_sum(other->globals[0], &len), (int64_t)100000 * 100001 / 2);
  cr_assert_eq(hk_heap_objects(other), 100000);
  /* A copy of the copy (messages of messages), then dropped unadopted. */
  cr_assert_eq(hk_value_copy_out(other, other->globals[0], 0, &m), 0);
  cr_assert_eq(hk_msg_objects(m), 100000);
  hk_msg_free(m);
  hk_vm_free(other);
  /* A continuation at the end of the large list. */
  hk_cont_t *k = (hk_cont_t *)hk_heap_alloc(vm, sizeof(hk_cont_t), HK_T_CONT);
  memset(&k->top, 0, sizeof *k - sizeof k->h);
  hk_value_t kl;
  cr_assert_eq(hk_alloc_cons(vm, hk_obj_value(&k->h), hk_nil(), &kl), 0);
  hk_value_t big = kl;
  for (uint32_t i = 0; i < 50000; i++) cr_assert_eq(hk_alloc_cons(vm, hk_int(i), big, &big), 0);
  cr_assert_eq(hk_value_copy_out(vm, big, 0, &m), -EINVAL);
}

Test(vm_heap, global_store_export_shares_and_is_static) {
  hk_value_t shared = list_of(3);
  hk_value_t items[2] = {shared, shared};
  cr_assert_eq(hk_alloc_tuple(vm, 2, items, &vm->globals[0]), 0);
  hk_cont_t *k = (hk_cont_t *)hk_heap_alloc(vm, sizeof(hk_cont_t), HK_T_CONT);
  memset(&k->top, 0, sizeof *k - sizeof k->h);
  vm->globals[1] = hk_obj_value(&k->h);
  hk_globals_t *g = NULL;
  cr_assert_eq(hk_globals_export(vm, &g), 0);
  vm->globals[2] = hk_int(5); /* initialised after the first export */
  cr_assert_eq(hk_globals_export(vm, &g), 0);
  cr_assert_eq(child_slot_after_refresh(vm, g, 2).tag, HK_T_UNINIT, "export needs the dirty mark");
  hk_vm_global_set(vm, 2); /* as SETGLOBAL does */
  cr_assert_eq(hk_globals_export(vm, &g), 0);

  hk_vm_t *child;
  cr_assert_eq(hk_vm_new(&child, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(child), 0);
  cr_assert_eq(hk_vm_use_globals(child, g), 0);
  hk_value_t t = child->globals[0];
  cr_assert_eq(t.tag, HK_T_TUPLE);
  cr_assert(t.as.o->flags & HK_OBJ_STATIC);
  cr_assert_eq(hk_tuple_at(t, 0).as.o, hk_tuple_at(t, 1).as.o, "sharing preserved");
  cr_assert_eq(child->globals[1].tag, HK_T_UNINIT);
  cr_assert_eq(child->globals[1].as.u, 1, "marked not sendable");
  cr_assert_eq(hk_as_int(child->globals[2]), 5);
  cr_assert_eq(child->globals[3].tag, HK_T_UNINIT);
  cr_assert_eq(child->globals[3].as.u, 0);
  cr_assert_eq(hk_heap_collect(child), 0);
  cr_assert_eq(hk_heap_objects(child), 0, "the store is not in the child's heap");
  cr_assert_eq(child->globals[0].as.o, t.as.o, "never moved");
  uint64_t len;
  cr_assert_eq(list_sum(hk_tuple_at(t, 1), &len), 6);
  hk_vm_free(child);
  hk_globals_free(g);
}

/* A root that alternates "set a global" and "hand a value to another
** process" exports once per global. A child still on the first array must
** not make every replaced array live on: the store's memory stays linear
** in the number of globals (it kept 16 bytes per global per export, 256 MB
** here), and each export's block is made to measure (not a 4 KiB chunk). */
Test(vm_heap, global_store_memory_linear_in_exports) {
  const uint32_t n = 4000;
  hk_image_t *big = tc_image(1, n);
  static const uint32_t code[] = {I(UNIT, 0), I(RET, 0)};
  tc_func(big, 0, "main", 0, 2, 4, code, 2);
  hk_vm_t *root, *early, *mid;
  cr_assert_eq(hk_vm_new(&root, big, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(root), 0);
  hk_globals_t *g = NULL;
  cr_assert_eq(hk_globals_export(root, &g), 0);
  cr_assert_eq(hk_vm_new(&early, big, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(early), 0);
  cr_assert_eq(hk_vm_use_globals(early, g), 0);
  struct mallinfo2 before = mallinfo2();
  for (uint32_t i = 0; i < n; i++) {
    cr_assert_eq(hk_alloc_tuple(root, 2, (hk_value_t[]){hk_int(i), hk_int(-1)}, &root->globals[i]),
                 0);
    hk_vm_global_set(root, i);
    cr_assert_eq(hk_globals_export(root, &g), 0);
    if (i == n / 2) { /* a child that joins halfway keeps its array valid */
      cr_assert_eq(hk_vm_new(&mid, big, NULL, NULL), 0);
      cr_assert_eq(hk_vm_start_main(mid), 0);
      cr_assert_eq(hk_vm_use_globals(mid, g), 0);
    }
  }
  struct mallinfo2 after = mallinfo2();
  size_t grown = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
  cr_assert_lt(grown, (size_t)4 << 20, "%zu bytes for %u exports", grown, n);
  cr_assert_eq(early->globals[0].tag, HK_T_UNINIT);
  cr_assert_eq(hk_as_int(hk_tuple_at(mid->globals[n / 2], 0)), n / 2);
  cr_assert_eq(mid->globals[n / 2 + 1].tag, HK_T_UNINIT);
  cr_assert(hk_vm_globals_refresh(early));
  cr_assert(hk_vm_globals_refresh(mid));
  for (uint32_t i = 0; i < n; i++) {
    cr_assert_eq(hk_as_int(hk_tuple_at(early->globals[i], 0)), i);
    cr_assert_eq(hk_as_int(hk_tuple_at(mid->globals[i], 0)), i);
  }
  hk_vm_free(early);
  hk_vm_free(mid);
  hk_vm_free(root);
  hk_globals_free(g);
  hk_image_free(big);
}

/* A list whose heads mix immediates, static strings, heap strings and
** lists: the copy and the collector take runs of cells with immediate
** heads in one loop (copy_spine, gc_spine) and every other cell one by one;
** the result must be the same list, with exact object counts and limits. */
static hk_value_t mixed_list(uint32_t n, uint64_t *objects) {
  hk_value_t lit;
  cr_assert_eq(hk_image_string(img, "lit", 3, &lit), 0);
  hk_value_t l = hk_nil();
  *objects = 0;
  for (uint32_t i = 1; i <= n; i++) {
    hk_value_t h = hk_int(i);
    if (i % 13 == 0) {
      cr_assert_eq(hk_alloc_cons(vm, hk_int(i), hk_nil(), &h), 0);
      (*objects)++;
    } else if (i % 11 == 0) {
      cr_assert_eq(hk_alloc_string(vm, "heap", 4, &h), 0);
      (*objects)++;
    } else if (i % 7 == 0) {
      h = lit;
    }
    cr_assert_eq(hk_alloc_cons(vm, h, l, &l), 0);
    (*objects)++;
  }
  return l;
}

/* Checks mixed_list(n)'s shape: element i (from n down to 1). */
static void check_mixed(hk_value_t l, uint32_t n) {
  for (uint32_t i = n; i >= 1; i--, l = hk_tail(l)) {
    cr_assert_eq(l.tag, HK_T_CONS);
    hk_value_t h = hk_head(l);
    if (i % 13 == 0) {
      cr_assert_eq(h.tag, HK_T_CONS);
      cr_assert_eq(hk_as_int(hk_head(h)), i);
      cr_assert_eq(hk_tail(h).tag, HK_T_NIL);
    } else if (i % 11 == 0) {
      cr_assert_eq(h.tag, HK_T_STRING);
      cr_assert_eq(hk_str_len(h), 4);
      cr_assert_eq(memcmp(hk_str_data(h), "heap", 4), 0);
    } else if (i % 7 == 0) {
      cr_assert_eq(h.tag, HK_T_STRING);
      cr_assert(h.as.o->flags & HK_OBJ_STATIC, "a literal stays shared");
    } else {
      cr_assert_eq(hk_as_int(h), i);
    }
  }
  cr_assert_eq(l.tag, HK_T_NIL);
}

Test(vm_heap, list_with_mixed_heads_copies_and_collects) {
  uint64_t objects;
  hk_value_t l = mixed_list(20000, &objects);
  hk_msg_t *m = NULL;
  cr_assert_eq(hk_value_copy_out(vm, l, objects - 1, &m), -E2BIG);
  cr_assert_eq(hk_value_copy_out(vm, l, objects, &m), 0);
  cr_assert_eq(hk_msg_objects(m), objects);
  hk_vm_t *other;
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  hk_value_t got;
  cr_assert_eq(hk_vm_adopt(other, m, &got), 0);
  check_mixed(got, 20000);
  other->globals[0] = got;
  cr_assert_eq(hk_heap_collect(other), 0);
  cr_assert_eq(hk_heap_objects(other), objects);
  check_mixed(other->globals[0], 20000);
  hk_vm_free(other);
  vm->globals[0] = l;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), objects);
  check_mixed(vm->globals[0], 20000);
}

/* Two roots into one list, the later root a suffix of the earlier one and
** the reverse: the collector copies the shared cells once, whichever root
** reaches them first, and both roots still share them. */
Test(vm_heap, collection_keeps_a_shared_list_suffix) {
  hk_value_t l = list_of(5000);
  hk_value_t suffix = l;
  for (int i = 0; i < 1000; i++) suffix = hk_tail(suffix);
  vm->globals[0] = l;
  vm->globals[1] = suffix;
  vm->globals[2] = suffix;
  vm->globals[3] = l;
  cr_assert_eq(hk_heap_collect(vm), 0);
  cr_assert_eq(hk_heap_objects(vm), 5000);
  hk_value_t s0 = vm->globals[0];
  for (int i = 0; i < 1000; i++) s0 = hk_tail(s0);
  cr_assert_eq(s0.as.o, vm->globals[1].as.o);
  cr_assert_eq(vm->globals[1].as.o, vm->globals[2].as.o);
  cr_assert_eq(vm->globals[0].as.o, vm->globals[3].as.o);
  uint64_t len;
  cr_assert_eq(list_sum(vm->globals[0], &len), (int64_t)5000 * 5001 / 2);
  cr_assert_eq(len, 5000);
  cr_assert_eq(list_sum(vm->globals[1], &len), (int64_t)4000 * 4001 / 2);
}

/* One object whose fields need no copy (scalars, literals) goes straight into
** its block: the copy holds exactly that object, a literal stays shared, a
** heap string inside still makes a second object. */
Test(vm_heap, flat_messages_copy_one_object) {
  hk_value_t lit, str, t, d;
  cr_assert_eq(hk_image_string(img, "lit", 3, &lit), 0);
  cr_assert_eq(hk_alloc_string(vm, "heap", 4, &str), 0);
  hk_value_t items[3] = {hk_int(7), lit, hk_char('x')};
  cr_assert_eq(hk_alloc_tuple(vm, 3, items, &t), 0);
  cr_assert_eq(hk_alloc_data(vm, 0, hk_int(9), &d), 0);
  hk_value_t vals[3] = {t, str, d};
  hk_msg_t *m[3];
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(hk_value_copy_out(vm, vals[i], 0, &m[i]), 0);
    cr_assert_eq(hk_msg_objects(m[i]), 1);
  }
  hk_value_t with_heap[2] = {hk_int(1), str}, t2;
  cr_assert_eq(hk_alloc_tuple(vm, 2, with_heap, &t2), 0);
  hk_msg_t *m2;
  cr_assert_eq(hk_value_copy_out(vm, t2, 0, &m2), 0);
  cr_assert_eq(hk_msg_objects(m2), 2);
  hk_vm_t *other;
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  for (int i = 0; i < 3; i++) cr_assert_eq(hk_vm_adopt(other, m[i], &other->globals[i]), 0);
  cr_assert_eq(hk_vm_adopt(other, m2, &other->globals[3]), 0);
  cr_assert_eq(hk_heap_collect(other), 0);
  cr_assert_eq(hk_heap_objects(other), 5);
  hk_value_t g = other->globals[0];
  cr_assert_eq(g.tag, HK_T_TUPLE);
  cr_assert_neq(g.as.o, t.as.o);
  cr_assert_eq(hk_as_int(hk_tuple_at(g, 0)), 7);
  cr_assert_eq(hk_tuple_at(g, 1).as.o, lit.as.o, "a literal stays shared");
  cr_assert_eq(hk_tuple_at(g, 2).as.u, 'x');
  cr_assert_eq(hk_str_len(other->globals[1]), 4);
  cr_assert_eq(memcmp(hk_str_data(other->globals[1]), "heap", 4), 0);
  cr_assert_eq(other->globals[2].tag, HK_T_DATA);
  cr_assert_eq(hk_as_int(hk_as_data(other->globals[2])->payload), 9);
  hk_value_t s2 = hk_tuple_at(other->globals[3], 1);
  cr_assert_eq(memcmp(hk_str_data(s2), "heap", 4), 0);
  cr_assert_neq(s2.as.o, str.as.o);
  hk_vm_free(other);
}

/* A send's copy of a tuple of scalars and literals (hk_value_copy_out_room's
** flat tuple path): one object, the literal shared, the room 16-aligned
** after the tuple inside the same block; a heap string inside still takes
** the general path (two objects, the string copied). */
Test(vm_heap, flat_tuple_send_copy_with_room) {
  hk_value_t lit, str, t, t2;
  cr_assert_eq(hk_image_string(img, "0123456789abcdef", 16, &lit), 0);
  cr_assert_eq(hk_alloc_string(vm, "heap", 4, &str), 0);
  hk_value_t items[3] = {hk_int(-5), lit, hk_bool(true)};
  cr_assert_eq(hk_alloc_tuple(vm, 3, items, &t), 0);
  hk_msg_t *m;
  void *room;
  cr_assert_eq(hk_value_copy_out_room(vm, t, 0, 48, &m, &room), 0);
  cr_assert_eq(hk_msg_objects(m), 1);
  cr_assert_not_null(room);
  cr_assert_eq((uintptr_t)room % 16, 0);
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  cr_assert_geq((const unsigned char *)room, c->data + c->used, "the room follows the copy");
  cr_assert_leq((const unsigned char *)room + 48, c->data + c->size, "the room is in the block");
  memset(room, 0xa5, 48); /* the caller's to write (ASan checks the bounds) */
  hk_value_t with_heap[2] = {str, hk_int(3)};
  cr_assert_eq(hk_alloc_tuple(vm, 2, with_heap, &t2), 0);
  hk_msg_t *m2;
  void *room2;
  cr_assert_eq(hk_value_copy_out_room(vm, t2, 0, 32, &m2, &room2), 0);
  cr_assert_eq(hk_msg_objects(m2), 2);
  hk_vm_t *other;
  cr_assert_eq(hk_vm_new(&other, img, NULL, NULL), 0);
  cr_assert_eq(hk_vm_start_main(other), 0);
  cr_assert_eq(hk_vm_adopt(other, m, &other->globals[0]), 0);
  cr_assert_eq(hk_vm_adopt(other, m2, &other->globals[1]), 0);
  cr_assert_eq(hk_heap_collect(other), 0);
  cr_assert_eq(hk_heap_objects(other), 3);
  hk_value_t g = other->globals[0];
  cr_assert_eq(g.tag, HK_T_TUPLE);
  cr_assert_eq(hk_tuple_len(g), 3);
  cr_assert_neq(g.as.o, t.as.o);
  cr_assert_eq(g.as.o->flags, 0, "a heap object of the receiver");
  cr_assert_eq(hk_as_int(hk_tuple_at(g, 0)), -5);
  cr_assert_eq(hk_tuple_at(g, 1).as.o, lit.as.o, "a literal stays shared");
  cr_assert_eq(hk_tuple_at(g, 2).as.u, 1);
  hk_value_t s2 = hk_tuple_at(other->globals[1], 0);
  cr_assert_neq(s2.as.o, str.as.o);
  cr_assert_eq(memcmp(hk_str_data(s2), "heap", 4), 0);
  hk_vm_free(other);
}

/* hk_tuple_copy_out_room: a flat tuple (scalars, a literal) is one object
** in its block with the room after it; a static tuple (shared by the copy)
** or one with a heap component is left to the general copy (1, nothing
** done). */
Test(vm_heap, tuple_copy_out_room_only_flat_tuples) {
  hk_value_t lit, str, t, t2;
  cr_assert_eq(hk_image_string(img, "0123456789abcdef", 16, &lit), 0);
  cr_assert_eq(hk_alloc_string(vm, "heap", 4, &str), 0);
  hk_value_t items[2] = {hk_int(41), lit};
  cr_assert_eq(hk_alloc_tuple(vm, 2, items, &t), 0);
  hk_msg_t *m = NULL;
  void *room = NULL;
  cr_assert_eq(hk_tuple_copy_out_room(t, 32, &m, &room), 0);
  cr_assert_eq(hk_msg_objects(m), 1);
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  cr_assert_eq((uintptr_t)room % 16, 0);
  cr_assert_geq((const unsigned char *)room, c->data + c->used, "the room follows the copy");
  cr_assert_leq((const unsigned char *)room + 32, c->data + c->size, "the room is in the block");
  memset(room, 0x5a, 32);
  hk_value_t g = *(const hk_value_t *)(const void *)c->data;
  cr_assert_eq(g.tag, HK_T_TUPLE);
  cr_assert_neq(g.as.o, t.as.o);
  cr_assert_eq(g.as.o->flags, 0);
  cr_assert_eq(hk_tuple_len(g), 2);
  cr_assert_eq(hk_as_int(hk_tuple_at(g, 0)), 41);
  cr_assert_eq(hk_tuple_at(g, 1).as.o, lit.as.o, "a literal stays shared");
  hk_msg_free(m);
  hk_value_t with_heap[2] = {hk_int(1), str};
  cr_assert_eq(hk_alloc_tuple(vm, 2, with_heap, &t2), 0);
  cr_assert_eq(hk_tuple_copy_out_room(t2, 32, &m, &room), 1);
  t.as.o->flags |= HK_OBJ_STATIC;
  cr_assert_eq(hk_tuple_copy_out_room(t, 32, &m, &room), 1);
  t.as.o->flags &= (uint8_t)~HK_OBJ_STATIC;
}

/* hk_items_copy_out_room: the tuple of components that need no copy (an
** Int, a literal, a Unit) is written into its block, one object, from the
** components alone; one heap component and nothing is done (1). */
Test(vm_heap, items_copy_out_room_writes_the_tuple) {
  hk_value_t lit, str;
  cr_assert_eq(hk_image_string(img, "0123456789abcdef", 16, &lit), 0);
  cr_assert_eq(hk_alloc_string(vm, "heap", 4, &str), 0);
  hk_value_t items[3] = {hk_int(41), lit, hk_unit()};
  hk_msg_t *m = NULL;
  void *room = NULL;
  cr_assert_eq(hk_items_copy_out_room(items, 3, 32, &m, &room), 0);
  cr_assert_eq(hk_msg_objects(m), 1);
  const hk_chunk_t *c = (const hk_chunk_t *)(const void *)m;
  cr_assert_geq((const unsigned char *)room, c->data + c->used, "the room follows the copy");
  cr_assert_leq((const unsigned char *)room + 32, c->data + c->size, "the room is in the block");
  memset(room, 0x5a, 32);
  hk_value_t g = *(const hk_value_t *)(const void *)c->data;
  cr_assert_eq(g.tag, HK_T_TUPLE);
  cr_assert_eq(g.as.o->flags, 0, "not static: the receiver's own");
  cr_assert_eq(hk_tuple_len(g), 3);
  cr_assert_eq(hk_as_int(hk_tuple_at(g, 0)), 41);
  cr_assert_eq(hk_tuple_at(g, 1).as.o, lit.as.o, "a literal stays shared");
  cr_assert_eq(hk_tuple_at(g, 2).tag, HK_T_UNIT);
  hk_msg_free(m);
  items[2] = str;
  m = NULL;
  cr_assert_eq(hk_items_copy_out_room(items, 3, 32, &m, &room), 1);
  cr_assert_null(m);
  /* A pair (its own copy, sizes folded): the same, with the room aligned. */
  hk_value_t pair[2] = {hk_int(7), lit};
  cr_assert_eq(hk_items_copy_out_room(pair, 2, 32, &m, &room), 0);
  c = (const hk_chunk_t *)(const void *)m;
  cr_assert_eq(hk_msg_objects(m), 1);
  cr_assert_eq((uintptr_t)room % 16, 0, "the envelope's room is aligned");
  cr_assert_geq((const unsigned char *)room, c->data + c->used, "the room follows the copy");
  cr_assert_leq((const unsigned char *)room + 32, c->data + c->size, "the room is in the block");
  memset(room, 0x5a, 32);
  g = *(const hk_value_t *)(const void *)c->data;
  cr_assert_eq(hk_tuple_len(g), 2);
  cr_assert_eq(hk_as_int(hk_tuple_at(g, 0)), 7);
  cr_assert_eq(hk_tuple_at(g, 1).as.o, lit.as.o);
  hk_msg_free(m);
  pair[0] = str;
  m = NULL;
  cr_assert_eq(hk_items_copy_out_room(pair, 2, 32, &m, &room), 1);
  cr_assert_null(m);
}

/* Block size classes: 16-byte steps to 768, 64-byte steps to 2048, then
** the size itself. */
Test(vm_heap, block_size_classes) {
  static const size_t in[] = {0,   1,   16,  17,  255, 256, 257,  545,  560,  767,
                              768, 769, 832, 833, 2047, 2048, 2049, 5000};
  static const size_t out[] = {16,  16,  16,  32,  256,  256,  272,  560,  560,  768,
                               768, 832, 832, 896, 2048, 2048, 2049, 5000};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
    cr_assert_eq(hk_bcache_class_size(in[i]), out[i], "class of %zu", in[i]);
}

/* hk_bcache_free_run: runs of blocks linked through their first word (a
** short one onto the list, full batches to the spare and the shared stack)
** all come back from the cache on this thread, none twice (with the cache
** on; without it, under AddressSanitizer, each is freed by the run). */
Test(vm_heap, block_cache_free_run_reuses_every_block) {
  enum { N = 64 * 3 + 10, MORE = N + 2 * 64 + 256 };
  static void *b[N], *again[MORE];
  for (int i = 0; i < N; i++) cr_assert_not_null(b[i] = hk_bcache_alloc(128));
  static const int runs[] = {10, 64, 64, 64};
  int at = 0;
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    for (int i = at; i < at + runs[r] - 1; i++) *(void **)b[i] = b[i + 1];
    hk_bcache_free_run(b[at], b[at + runs[r] - 1], (uint32_t)runs[r], 128);
    at += runs[r];
  }
  cr_assert_eq(at, N);
  for (int i = 0; i < MORE; i++) cr_assert_not_null(again[i] = hk_bcache_alloc(128));
#if HK_BCACHE_ON
  for (int i = 0; i < N; i++) {
    int seen = 0;
    for (int j = 0; j < MORE; j++) seen += again[j] == b[i];
    cr_assert_eq(seen, 1, "block %d came back %d times", i, seen);
  }
#endif
  /* Without the cache (AddressSanitizer) each block of a run goes to free():
  ** the sanitizer fails the test on a block freed twice or read after its
  ** free. */
  for (int i = 0; i < MORE; i++) hk_bcache_free(again[i], 128);
}

/* Blocks carved from slabs keep their alignment (bcache.h): 64 bytes for
** a class that is a multiple of 64 (a message block of 128), 16 for the
** others (80, a process record's 560); over several slabs of each, all
** distinct and writable to their end. */
Test(vm_heap, block_cache_alignment_across_slabs) {
  static const size_t sizes[] = {128, 80, 560, 768};
  enum { N = 100 };
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    unsigned char *b[N];
    size_t align = sizes[s] % 64 == 0 ? 64 : 16;
    for (int i = 0; i < N; i++) {
      b[i] = hk_bcache_alloc(sizes[s]);
      cr_assert_not_null(b[i]);
      cr_assert_eq((uintptr_t)b[i] % align, 0, "block %d of %zu aligned to %zu", i, sizes[s], align);
      memset(b[i], 0xa5, sizes[s]);
      for (int j = 0; j < i; j++) cr_assert_neq(b[i], b[j]);
    }
    for (int i = 0; i < N; i++) hk_bcache_free(b[i], sizes[s]);
  }
}

/* An instance placed with its first heap chunk (hk_vm_place, as every
** process is): objects go to the placed chunk, then to malloc'ed ones in
** front of it; freeing keeps the placed chunk (it is the caller's memory,
** HK_SEG_INL_HEAP), and the first collection leaves it for to-space, so the
** mark goes and nothing of the caller's memory is freed (ASan checks both
** ways: a free of the placed chunk, a leak of the others). */
Test(vm_heap, placed_chunk_is_never_freed) {
  size_t heap = 64, size = hk_vm_place_size(4, 2, heap);
  for (int collect = 0; collect < 2; collect++) {
    void *mem = aligned_alloc(16, (size + 15u) & ~(size_t)15u);
    cr_assert_not_null(mem);
    hk_vm_t *p = hk_vm_place(mem, 4, 2, heap, img, NULL, NULL);
    cr_assert_not_null(p);
    cr_assert_eq(hk_vm_start_main(p), 0);
    hk_chunk_t *placed = p->heap.chunks;
    cr_assert_eq((unsigned char *)placed, (unsigned char *)mem + hk_vm_place_size(4, 2, 0));
    cr_assert_eq(placed->size, heap);
    cr_assert(p->root.inl & HK_SEG_INL_HEAP);
    hk_vm_stats_t st;
    hk_vm_get_stats(p, &st);
    cr_assert_eq(st.heap_bytes, heap, "the placed chunk only");
    hk_value_t l = hk_nil();
    for (int i = 0; i < 50; i++) cr_assert_eq(hk_alloc_cons(p, hk_int(i), l, &l), 0);
    cr_assert_neq(p->heap.chunks, placed, "the placed chunk filled up");
    hk_chunk_t *last = p->heap.chunks;
    while (last->next) last = last->next;
    cr_assert_eq(last, placed, "the placed chunk stays the list's last");
    cr_assert_gt(placed->used, 0, "the first objects went to the placed chunk");
    hk_vm_get_stats(p, &st);
    cr_assert_geq(st.heap_bytes, heap + 50 * sizeof(hk_cons_t) - placed->used, "every chunk counted");
    if (collect) {
      p->globals[0] = l;
      cr_assert_eq(hk_heap_collect(p), 0);
      cr_assert_not(p->root.inl & HK_SEG_INL_HEAP, "to-space is malloc's");
      for (hk_chunk_t *c = p->heap.chunks; c; c = c->next) cr_assert_neq(c, placed);
      uint64_t len;
      cr_assert_eq(list_sum(p->globals[0], &len), 49 * 50 / 2);
    }
    hk_vm_free(p);
    free(mem);
  }
}
