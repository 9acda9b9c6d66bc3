/* bi_value.c — the VM entry points for value printing and equality
** (vm/vm.h): hk_value_show and hk_value_equal wrap the instance-free walks
** of bi_show.c and bi_equal.c and charge their work (SPEC §6.10). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bi_show.h"
#include "vm/vm.h"

const char *hk_vm_show_ctor_name(const void *vm, uint32_t ctor) {
  return vm ? hk_vm_ctor_name((const hk_vm_t *)vm, ctor) : "?";
}

const char *hk_vm_show_native_name(const void *vm, uint32_t id) {
  const hk_host_t *host = vm ? hk_vm_host((const hk_vm_t *)vm) : NULL;
  return host && host->native_name ? host->native_name(host->ud, id) : NULL;
}

int hk_value_show(hk_vm_t *vm, hk_value_t v, char **out, size_t *len) {
  hk_buf_t b;
  hk_buf_init(&b);
  uint64_t work = 0;
  int rc = hk_show_append(v, hk_vm_show_ctor_name, hk_vm_show_native_name, vm, &b, &work);
  hk_buf_putc(&b, 0);
  hk_vm_charge(vm, work);
  if (rc < 0 || b.failed) {
    hk_buf_free(&b);
    return -ENOMEM;
  }
  *out = (char *)b.data;
  *len = b.len - 1;
  return 0;
}

int hk_value_equal(hk_vm_t *vm, hk_value_t a, hk_value_t b) {
  if (a.tag == HK_T_STRING && b.tag == HK_T_STRING) {
    /* Two strings (a message field against a literal): hk_equal_values'
    ** compare without its calls. Its work is 1 (lengths differ) or 1 + n,
    ** so a string under 63 bytes costs no reduction (and makes no call). */
    size_t n = hk_str_len(a);
    if (n != hk_str_len(b)) return 0;
    hk_vm_charge(vm, 1 + (uint64_t)n);
    return a.as.o == b.as.o || memcmp(hk_str_data(a), hk_str_data(b), n) == 0;
  }
  uint64_t work = 0;
  int rc = hk_equal_values(a, b, &work);
  hk_vm_charge(vm, work);
  return rc;
}
