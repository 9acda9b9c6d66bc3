/* api.c — small parts of the public API: version, errors, memory. */
#include "hiko.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hiko_config.h"

const char *hiko_version(void) { return HIKO_VERSION; }

const char *hiko_strerror(int err) {
  switch (err) {
  case HIKO_ECOMPILE: return "compilation failed";
  case HIKO_EBYTECODE: return "invalid bytecode";
  case HIKO_ESTATE: return "call not valid in the runtime's current state";
  default: break;
  }
  if (err < 0 && err > -4096) return strerror(-err);
  return err == 0 ? "success" : "unknown error";
}

void hiko_free(void *p) { free(p); }

void hiko_config_init(hiko_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->size = sizeof *cfg;
  cfg->allow_net = true;
}
