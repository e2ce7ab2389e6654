/* host/train/callback_ckpt.h — the callbacks' checkpoint section: each callback instance that
 * saves state (lhost_callback_vtable.state_save) keeps its bytes as the U8 tensor
 * "callback.<state key>" and their version as the metadata entry "callback.<state key>.version",
 * as Lightning keeps callback state_dicts under their state_key. */
#ifndef LH_CALLBACK_CKPT_H
#define LH_CALLBACK_CKPT_H

#include <stdio.h>

#include "dispatch.h"
#include "error.h"
#include "safetensors.h"

int lh_callback_ckpt_save(const lh_dispatch *d, lh_safetensors_writer *w, lh_error *err);
/* Hand each instance its saved bytes (state_restore). An instance the checkpoint has no state
 * for starts fresh, with a note on `note`. */
int lh_callback_ckpt_load(const lh_dispatch *d, const lh_safetensors_file *f, FILE *note,
                          lh_error *err);

#endif
