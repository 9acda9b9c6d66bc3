/* pending.c — public API functions whose implementation has not landed yet.
** Each returns -ENOSYS. Whoever implements one deletes it from this file in
** the same commit. */
#include "hiko.h"

#include <errno.h>
#include <stdlib.h>
