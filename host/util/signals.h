/* host/util/signals.h — SIGINT/SIGTERM as a request to stop, as Lightning turns a Ctrl-C into a
 * graceful shutdown.
 *
 * lh_signals_install sets an async-signal-safe handler (sigaction) that only records the first
 * signal; the training loop polls lh_signals_pending at batch boundaries and winds down (hooks,
 * last.ckpt, metrics.csv, loggers) before the command exits 128 + signal. A second signal while
 * winding down ends the process at once with _exit(128 + that signal): every file lhost writes
 * goes through host/util/atomic.c, so no half-written file is ever left under its real name.
 *
 * SIGWINCH (the terminal was resized) is watched separately, by the progress bar: its handler
 * only sets a flag that lh_signals_winch_take reads and clears, and the bar asks the terminal
 * its new width (TIOCGWINSZ) at its next draw. */
#ifndef LH_SIGNALS_H
#define LH_SIGNALS_H

/* Catch SIGINT and SIGTERM until lh_signals_restore, the handler running on an alternate
 * signal stack (lh_signals_alt_stack) whatever the interrupted code did with its stack pointer.
 * Call it on the thread that runs training, before other threads start. Returns 0, or -1 when
 * sigaction or sigaltstack fails. */
int lh_signals_install(void);
/* Give the calling thread an alternate signal stack (for SA_ONSTACK handlers) unless it has
 * one already (a sanitizer's, or one from an earlier call). 0, or -1 when none could be set. */
int lh_signals_alt_stack(void);
/* Put back the dispositions lh_signals_install replaced. */
void lh_signals_restore(void);
/* The first signal caught since lh_signals_install (SIGINT, SIGTERM), 0 when none. */
int lh_signals_pending(void);
/* Watch SIGWINCH until lh_signals_unwatch_winch (which puts the old disposition back). Returns
 * 0, or -1 when sigaction fails. Calling it twice is one watch. */
int lh_signals_watch_winch(void);
void lh_signals_unwatch_winch(void);
/* 1 when a SIGWINCH came since the last call (the flag is cleared), else 0. */
int lh_signals_winch_take(void);
/* "SIGINT", "SIGTERM" or "signal N" (static storage). */
const char *lh_signals_name(int sig);

#endif
