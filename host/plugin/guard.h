/* host/plugin/guard.h — name the plugin and the hook a fatal signal lands in.
 *
 * A plugin runs in the host's process, so a SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT inside
 * its create, destroy or a hook would end lhost with no word about who did it. Before each call
 * into a plugin (instance.c: create/destroy; dispatch.c: hooks, on_exception; instance_guard.c:
 * what the trainer calls directly) the caller makes a preformatted note current
 * ("lhost: plugin org.x.y crashed in on_train_batch_end ("); the handler lh_guard_install sets
 * writes it, the signal's name and ")", and exits with 128 + the signal: only write(2) and
 * _exit(2), which are async-signal-safe.
 * Nothing is written to disk on the way out; every file lhost writes goes through
 * host/util/atomic.c, so the last complete checkpoint stays and no half file has a real name.
 *
 * A fatal signal with no note current (the host's own code), or on another thread than the one
 * that installed the handler, goes to the disposition that was there before (the default, or a
 * sanitizer's handler), as if lh_guard_install had not run.
 *
 * A hook that never returns: with lh_guard_watchdog (`--plugin-timeout SECONDS`) a thread ends
 * the process when one call into a plugin has lasted that long, with "lhost: plugin ID hung in
 * HOOK: no return after N s" and status 124 (as timeout(1)). Without it, SIGINT/SIGTERM ask
 * training to stop at the next batch boundary (host/util/signals.c), which a hung hook never
 * reaches, and a second signal ends the process at once. */
#ifndef LH_GUARD_H
#define LH_GUARD_H

#include <stdint.h>

/* "lhost: plugin <id> crashed in <hook> (": ids are at most 128 characters (loader.c). */
#define LH_GUARD_NOTE_MAX 224

typedef struct lh_guard_note {
    uint32_t len; /* 0: not formatted */
    char text[LH_GUARD_NOTE_MAX];
    const char *id, *hook; /* borrowed (the registry's id, a static hook name): the watchdog's */
} lh_guard_note;

/* The exit status after the watchdog found a hung plugin. */
#define LH_GUARD_HUNG_STATUS 124

/* Catch the fatal signals above on this thread's behalf (an alternate stack is set up when the
 * thread has none, so a plugin's stack overflow is reported too). 0, or -1 when sigaction
 * fails. Calling it again does nothing. */
int lh_guard_install(void);
/* Put back the dispositions lh_guard_install replaced. */
void lh_guard_restore(void);

/* From now on, end the process when one call into a plugin lasts `seconds` (> 0; 0 = never).
 * Once per process; 0, or -1 when the thread cannot be started. */
int lh_guard_watchdog(double seconds);

/* Format `note` for plugin `id` in `hook` ("create", "on_fit_start", ...). */
void lh_guard_note_set(lh_guard_note *note, const char *id, const char *hook);

/* Make `note` current (NULL: none) and return the one that was, for lh_guard_leave. Cheap: one
 * store; called around every call into a plugin. */
const lh_guard_note *lh_guard_enter(const lh_guard_note *note);
void lh_guard_leave(const lh_guard_note *previous);

#endif
