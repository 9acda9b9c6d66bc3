/* bi_value.c — the VM entry points for value printing and equality
** (vm/vm.h): hk_value_show and hk_value_equal wrap the instance-free walks
** of bi_show.c and bi_equal.c and charge their work (SPEC §6.10). */
#include <errno.h>
#include <stdlib.h>

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
  uint64_t work = 0;
  int rc = hk_equal_values(a, b, &work);
  hk_vm_charge(vm, work);
  return rc;
}
