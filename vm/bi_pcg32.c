/* bi_pcg32.c — the PCG32 generator of SPEC §8.10 (XSH-RR, 64-bit state)
** and its seeding rule. Declared in bi_core.h. Thread: any. */
#include "vm/bi_core.h"

uint32_t hk_pcg32_next(hk_pcg32_t *g) {
  uint64_t old = g->state;
  g->state = old * 6364136223846793005ULL + g->inc;
  uint32_t x = (uint32_t)(((old >> 18) ^ old) >> 27);
  uint32_t r = (uint32_t)(old >> 59);
  return (x >> r) | (x << ((32 - r) & 31));
}

void hk_pcg32_seed(hk_pcg32_t *g, const uint8_t *seed, size_t n) {
  g->state = 0;
  g->inc = 1;
  for (size_t i = 0; i < n; i++) {
    if (i % 2 == 0) g->state = g->state * 31 + seed[i];
    else g->inc = g->inc * 37 + seed[i];
  }
  g->inc |= 1;
  hk_pcg32_next(g);
  hk_pcg32_next(g);
}
