/* rt_mailbox_order.h — the per-producer FIFO check of the mailbox stress
** tests (rt_mailbox.c, rt_mailbox_many.c). */
#ifndef RT_MAILBOX_ORDER_H
#define RT_MAILBOX_ORDER_H

#include <stdint.h>
#include <stdio.h>

/* Records message [seq] of producer [from] (of [nprod]) against last[]
** (the last sequence number taken from each). Returns true when it is the
** next one; otherwise reports it on stderr unless [*fail] is set already,
** and sets *fail. */
static inline int rt_mailbox_in_order(uint32_t *last, uint32_t nprod, uint32_t from, uint32_t seq,
                                      int *fail) {
  int ok = from < nprod && seq == last[from] + 1;
  if (!ok) {
    if (!*fail)
      fprintf(stderr, "order: producer %u seq %u after %u\n", from, seq,
              from < nprod ? last[from] : 0);
    *fail = 1;
  }
  if (from < nprod) last[from] = seq;
  return ok;
}

#endif
