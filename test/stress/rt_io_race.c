/* rt_io_race.c — I/O for processes under ThreadSanitizer (issue #6): through
** the embedding API, completions race messages, cancellations and program
** end. Every program checks its own result; the C side checks the outcome.
** Deadlock detection is on, so a false positive while I/O is pending fails
** the run too (SPEC §6.9.2). Exit 0 pass, 1 fail. */
#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hiko.h"

#define STRESS_NAME "rt_io_race"
#include "api_run.h"

/* Messages race receive_timeout's timers: R receivers, each sent K values
** (1..K) and then -1 by its own sender that sleeps now and then; every
** receiver waits with a 0-2 ms timeout. Nothing may be lost or doubled. */
static const char timeouts[] =
    "val me = self ()\n"
    "fun recv acc = let val v = receive_timeout (acc mod 3, 0) in\n"
    "  if v = ~1 then acc else recv (acc + v) end\n"
    "fun sender (to, i) = if i > K then send_message (to, ~1) else\n"
    "  let val _ = send_message (to, i) val _ = if i mod 7 = 0 then sleep (i mod 2) else () in\n"
    "  sender (to, i + 1) end\n"
    "fun start (0, acc) = acc | start (n, acc) =\n"
    "  let val r = spawn (fn () => recv 0) val _ = spawn (fn () => sender (r, 1))\n"
    "  in start (n - 1, r :: acc) end\n"
    "fun sum [] = 0 | sum (p :: ps) = await_process p + sum ps\n"
    "val _ = println (sum (start (R, [])))\n";

/* Cancellations race completions: children sleep, wait with a timeout or
** wait for a connection, and their parent cancels them after 0-2 ms;
** either outcome is fine, every child must end. */
static const char cancels[] =
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "val port = socket_port l\n"
    "fun child i = if i mod 3 = 0 then sleep (i mod 4)\n"
    "  else if i mod 3 = 1 then receive_timeout (i mod 3, ())\n"
    "  else let val c = tcp_connect (\"127.0.0.1\", port) in socket_close c end\n"
    "fun go i = if i > N then 0 else\n"
    "  let val c = spawn (fn () => child i)\n"
    "      val _ = if i mod 2 = 0 then sleep (i mod 3) else ()\n"
    "      val _ = cancel c\n"
    "      val _ = await_result c\n"
    "  in 1 + go (i + 1) end\n"
    "val acceptor = spawn (fn () => let fun loop () = let val s = tcp_accept l val _ = socket_close s in loop () end in loop () end)\n"
    "val _ = println (go 1)\n"
    "val _ = cancel acceptor\n";

/* Sockets and cancels: C clients exchange with an echo server; every other
** client is cancelled mid-exchange (its socket closes, the handler sees end
** of stream); the others must get every reply. */
static const char echo[] =
    "val l = tcp_listen (\"127.0.0.1\", 0)\n"
    "val port = socket_port l\n"
    "fun echo s = let val d = socket_recv (s, 100) in\n"
    "  if d = \"\" then socket_close s else let val _ = socket_send (s, d) in echo s end end\n"
    "fun acceptor () = let val s = tcp_accept l val h = spawn_detached (fn () => echo (receive_message ()))\n"
    "  val _ = socket_give (s, h) val _ = send_message (h, s) in acceptor () end\n"
    "val a = spawn acceptor\n"
    "fun exchange (c, 0) = 1 | exchange (c, k) =\n"
    "  let val _ = socket_send (c, \"x\") val r = socket_recv (c, 1) in\n"
    "  if r = \"x\" then exchange (c, k - 1) else 0 end\n"
    "fun client () = let val c = tcp_connect (\"127.0.0.1\", port) in exchange (c, K) end\n"
    "fun start (0, acc) = acc | start (n, acc) = start (n - 1, spawn client :: acc)\n"
    "fun finish ([], i) = 0 | finish (p :: ps, i) =\n"
    "  if i mod 2 = 0 then let val _ = cancel p val _ = await_result p in finish (ps, i + 1) end\n"
    "  else await_process p + finish (ps, i + 1)\n"
    "val _ = println (finish (start (C, []), 0))\n"
    "val _ = cancel a\n";


int main(void) {
  signal(SIGALRM, on_alarm);
  alarm(DEADLINE_S);
  int fail = 0;
  char want[128];
  long scale = STRESS_SCALE * (TSAN ? 1 : 4);
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    {
      long r = 20 * scale, k = 200;
      const char *keys[] = {"R", "K"};
      long vals[] = {r, k};
      char *src = subst(timeouts, keys, vals, 2);
      snprintf(want, sizeof want, "%ld\n", r * k * (k + 1) / 2);
      fail |= run("timeouts", src, workers, want);
      free(src);
    }
    {
      long n = 300 * scale;
      const char *keys[] = {"N"};
      long vals[] = {n};
      char *src = subst(cancels, keys, vals, 1);
      snprintf(want, sizeof want, "%ld\n", n);
      fail |= run("cancels", src, workers, want);
      free(src);
    }
    {
      long c = 20 * scale, k = 50;
      const char *keys[] = {"C", "K"};
      long vals[] = {c, k};
      char *src = subst(echo, keys, vals, 2);
      snprintf(want, sizeof want, "%ld\n", c / 2);
      fail |= run("echo", src, workers, want);
      free(src);
    }
  }
  return fail;
}
