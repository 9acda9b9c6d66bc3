/* pending.c — public API functions whose implementation has not landed yet.
** Each returns -ENOSYS. Whoever implements one deletes it from this file in
** the same commit. */
#include "hiko.h"

#include <errno.h>
#include <stdlib.h>


int hiko_program_disasm(const hiko_program_t *p, char **out) {
  (void)p; *out = NULL;
  return -ENOSYS;
}

int hiko_runtime_create(hiko_runtime_t **out, const hiko_config_t *cfg) {
  (void)cfg; *out = NULL;
  return -ENOSYS;
}
int hiko_runtime_destroy(hiko_runtime_t *rt) { (void)rt; return 0; }
int hiko_spawn_main(hiko_runtime_t *rt, hiko_program_t *p, hiko_pid_t *root) {
  (void)rt; (void)p; (void)root;
  return -ENOSYS;
}
int hiko_run(hiko_runtime_t *rt) { (void)rt; return -ENOSYS; }
int hiko_join(hiko_runtime_t *rt, hiko_pid_t root, hiko_result_t *out, int timeout_ms) {
  (void)rt; (void)root; (void)out; (void)timeout_ms;
  return -ENOSYS;
}
void hiko_result_clear(hiko_result_t *r) { (void)r; }
