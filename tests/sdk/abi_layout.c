/* tests/sdk/abi_layout.c — freezes the ABI v1.0 struct layouts for x86_64 LP64.
 *
 * Every boundary struct's size and every field's offset and size are asserted at compile time,
 * so a change that moves a field fails the build (a field appended in a later minor adds lines
 * here and changes only its struct's LH_SIZE, noting the older size; it never edits a field). Compiled as C99, C11 and C++17 (abi_layout.cpp includes this file)
 * by tests/sdk/tests.cmake; ctest runs the resulting sdk_header_* executables. */
#include <stddef.h>

#include <lhost/lhost.h>

#include "abi_layout.h"

#if defined(__cplusplus)
#define LH_ASSERT(cond, what) static_assert(cond, what)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define LH_ASSERT(cond, what) _Static_assert(cond, what)
#else /* C99: a negative array size fails the build */
#define LH_CAT2(a, b) a##b
#define LH_CAT(a, b) LH_CAT2(a, b)
#define LH_ASSERT(cond, what) typedef char LH_CAT(lh_abi_assert_, __LINE__)[(cond) ? 1 : -1]
#endif

#define LH_SIZE(T, size) LH_ASSERT(sizeof(T) == (size), "sizeof(" #T ") changed")
#define LH_FIELD(T, f, off, size)                                             \
    LH_ASSERT(offsetof(T, f) == (off) && sizeof(((T *)0)->f) == (size),       \
              #T "." #f ": offset or size changed")

#if defined(__x86_64__) && defined(__LP64__)

/* version.h */
LH_SIZE(lhost_version, 12);
LH_FIELD(lhost_version, major, 0, 4);
LH_FIELD(lhost_version, minor, 4, 4);
LH_FIELD(lhost_version, patch, 8, 4);

/* host.h */
LH_SIZE(lhost_trainer_state, 80); /* 72 in ABI 1.0 */
LH_FIELD(lhost_trainer_state, struct_size, 0, 4);
LH_FIELD(lhost_trainer_state, stage, 4, 4);
LH_FIELD(lhost_trainer_state, epoch, 8, 8);
LH_FIELD(lhost_trainer_state, global_step, 16, 8);
LH_FIELD(lhost_trainer_state, batch_idx, 24, 8);
LH_FIELD(lhost_trainer_state, num_train_batches, 32, 8);
LH_FIELD(lhost_trainer_state, max_epochs, 40, 8);
LH_FIELD(lhost_trainer_state, min_epochs, 48, 8);
LH_FIELD(lhost_trainer_state, rank, 56, 4);
LH_FIELD(lhost_trainer_state, world_size, 60, 4);
LH_FIELD(lhost_trainer_state, is_global_zero, 64, 4);
LH_FIELD(lhost_trainer_state, stop_requested, 68, 4);
/* since ABI 1.1 */
LH_FIELD(lhost_trainer_state, grads_valid, 72, 4);
LH_FIELD(lhost_trainer_state, sanity_checking, 76, 4);

LH_SIZE(lhost_tensor_info, 64); /* since ABI 1.1 */
LH_FIELD(lhost_tensor_info, struct_size, 0, 4);
LH_FIELD(lhost_tensor_info, dtype, 4, 4);
LH_FIELD(lhost_tensor_info, name, 8, 8);
LH_FIELD(lhost_tensor_info, ndim, 16, 4);
LH_FIELD(lhost_tensor_info, index, 20, 4);
LH_FIELD(lhost_tensor_info, shape, 24, 32);
LH_FIELD(lhost_tensor_info, numel, 56, 8);

LH_SIZE(lhost_host, 304); /* 152 in ABI 1.0 */
LH_FIELD(lhost_host, struct_size, 0, 4);
LH_FIELD(lhost_host, abi, 4, 12);
LH_FIELD(lhost_host, name, 16, 8);
LH_FIELD(lhost_host, version, 24, 8);
LH_FIELD(lhost_host, log, 32, 8);
LH_FIELD(lhost_host, set_error, 40, 8);
LH_FIELD(lhost_host, get_value, 48, 8);
LH_FIELD(lhost_host, log_value, 56, 8);
LH_FIELD(lhost_host, request_stop, 64, 8);
LH_FIELD(lhost_host, save_checkpoint, 72, 8);
LH_FIELD(lhost_host, trainer_state, 80, 8);
LH_FIELD(lhost_host, alloc, 88, 8);
LH_FIELD(lhost_host, free, 96, 8);
LH_FIELD(lhost_host, list_values, 104, 8);
LH_FIELD(lhost_host, snapshot_weights, 112, 8);
LH_FIELD(lhost_host, restore_weights, 120, 8);
LH_FIELD(lhost_host, get_hparam, 128, 8);
LH_FIELD(lhost_host, set_hparam, 136, 8);
LH_FIELD(lhost_host, value_higher_is_better, 144, 8);
/* since ABI 1.1 */
LH_FIELD(lhost_host, tensor_count, 152, 8);
LH_FIELD(lhost_host, tensor_info, 160, 8);
LH_FIELD(lhost_host, tensor_find, 168, 8);
LH_FIELD(lhost_host, tensor_read, 176, 8);
LH_FIELD(lhost_host, tensor_write, 184, 8);
LH_FIELD(lhost_host, grad_norm, 192, 8);
LH_FIELD(lhost_host, grad_scale, 200, 8);
LH_FIELD(lhost_host, clip_grad_norm, 208, 8);
LH_FIELD(lhost_host, clip_grad_value, 216, 8);
LH_FIELD(lhost_host, batch_logits, 224, 8);
LH_FIELD(lhost_host, request_stop_flags, 232, 8);
LH_FIELD(lhost_host, checkpoint_put, 240, 8);
LH_FIELD(lhost_host, checkpoint_get, 248, 8);
LH_FIELD(lhost_host, optimizer_name, 256, 8);
LH_FIELD(lhost_host, buffer_count, 264, 8);
LH_FIELD(lhost_host, buffer_info, 272, 8);
LH_FIELD(lhost_host, buffer_read, 280, 8);
LH_FIELD(lhost_host, buffer_write, 288, 8);
LH_FIELD(lhost_host, update_bn, 296, 8);

/* params.h. lhost_param has 4 bytes of tail padding after `flags` (60..63): a field added in
 * a later minor must start at offset 64, or struct_size could not tell it from padding. */
LH_SIZE(lhost_param, 64);
LH_FIELD(lhost_param, struct_size, 0, 4);
LH_FIELD(lhost_param, type, 4, 4);
LH_FIELD(lhost_param, name, 8, 8);
LH_FIELD(lhost_param, help, 16, 8);
LH_FIELD(lhost_param, default_value, 24, 8);
LH_FIELD(lhost_param, choices, 32, 8);
LH_FIELD(lhost_param, min, 40, 8);
LH_FIELD(lhost_param, max, 48, 8);
LH_FIELD(lhost_param, flags, 56, 4);

LH_SIZE(lhost_value, 48);
LH_FIELD(lhost_value, struct_size, 0, 4);
LH_FIELD(lhost_value, type, 4, 4);
LH_FIELD(lhost_value, name, 8, 8);
LH_FIELD(lhost_value, is_set, 16, 4);
LH_FIELD(lhost_value, from_user, 20, 4);
LH_FIELD(lhost_value, i, 24, 8);
LH_FIELD(lhost_value, f, 32, 8);
LH_FIELD(lhost_value, s, 40, 8);

LH_SIZE(lhost_param_values, 16);
LH_FIELD(lhost_param_values, struct_size, 0, 4);
LH_FIELD(lhost_param_values, count, 4, 4);
LH_FIELD(lhost_param_values, values, 8, 8);

/* callback.h (lhost_batch_info: 4 bytes of padding after struct_size) */
LH_SIZE(lhost_batch_info, 96); /* 32 in ABI 1.0 */
LH_FIELD(lhost_batch_info, struct_size, 0, 4);
LH_FIELD(lhost_batch_info, batch_idx, 8, 8);
LH_FIELD(lhost_batch_info, batch_size, 16, 8);
LH_FIELD(lhost_batch_info, loss, 24, 8);
/* since ABI 1.1 */
LH_FIELD(lhost_batch_info, stage, 32, 4);
LH_FIELD(lhost_batch_info, num_classes, 36, 4);
LH_FIELD(lhost_batch_info, input_ndim, 40, 4);
LH_FIELD(lhost_batch_info, reserved_, 44, 4);
LH_FIELD(lhost_batch_info, input_shape, 48, 32);
LH_FIELD(lhost_batch_info, targets, 80, 8);
LH_FIELD(lhost_batch_info, sample_index, 88, 8);

LH_SIZE(lhost_callback_vtable, 208); /* 96 in ABI 1.0 */
LH_FIELD(lhost_callback_vtable, struct_size, 0, 4);
LH_FIELD(lhost_callback_vtable, state_version, 4, 4);
LH_FIELD(lhost_callback_vtable, create, 8, 8);
LH_FIELD(lhost_callback_vtable, destroy, 16, 8);
LH_FIELD(lhost_callback_vtable, on_fit_start, 24, 8);
LH_FIELD(lhost_callback_vtable, on_train_epoch_start, 32, 8);
LH_FIELD(lhost_callback_vtable, on_train_batch_end, 40, 8);
LH_FIELD(lhost_callback_vtable, on_validation_end, 48, 8);
LH_FIELD(lhost_callback_vtable, on_train_epoch_end, 56, 8);
LH_FIELD(lhost_callback_vtable, on_fit_end, 64, 8);
LH_FIELD(lhost_callback_vtable, on_exception, 72, 8);
LH_FIELD(lhost_callback_vtable, state_save, 80, 8);
LH_FIELD(lhost_callback_vtable, state_restore, 88, 8);
/* since ABI 1.1 */
LH_FIELD(lhost_callback_vtable, stages, 96, 4);
LH_FIELD(lhost_callback_vtable, reserved_, 100, 4);
LH_FIELD(lhost_callback_vtable, on_train_start, 104, 8);
LH_FIELD(lhost_callback_vtable, on_train_end, 112, 8);
LH_FIELD(lhost_callback_vtable, on_train_batch_start, 120, 8);
LH_FIELD(lhost_callback_vtable, on_after_backward, 128, 8);
LH_FIELD(lhost_callback_vtable, on_before_optimizer_step, 136, 8);
LH_FIELD(lhost_callback_vtable, on_validation_start, 144, 8);
LH_FIELD(lhost_callback_vtable, on_validation_batch_end, 152, 8);
LH_FIELD(lhost_callback_vtable, on_validation_epoch_end, 160, 8);
LH_FIELD(lhost_callback_vtable, on_predict_start, 168, 8);
LH_FIELD(lhost_callback_vtable, on_predict_batch_end, 176, 8);
LH_FIELD(lhost_callback_vtable, on_predict_end, 184, 8);
LH_FIELD(lhost_callback_vtable, on_save_checkpoint, 192, 8);
LH_FIELD(lhost_callback_vtable, on_load_checkpoint, 200, 8);

/* metric.h (lhost_state_decl, lhost_metric_batch: 4 bytes of padding after struct_size) */
LH_SIZE(lhost_state_decl, 48); /* 40 in 1.0 */
LH_FIELD(lhost_state_decl, struct_size, 0, 4);
LH_FIELD(lhost_state_decl, name, 8, 8);
LH_FIELD(lhost_state_decl, dtype, 16, 4);
LH_FIELD(lhost_state_decl, reduction, 20, 4);
LH_FIELD(lhost_state_decl, length, 24, 8);
LH_FIELD(lhost_state_decl, init, 32, 8);
LH_FIELD(lhost_state_decl, max_rows, 40, 8); /* since 1.1 */

LH_SIZE(lhost_metric_state, 32); /* 16 in 1.0 */
LH_FIELD(lhost_metric_state, struct_size, 0, 4);
LH_FIELD(lhost_metric_state, count, 4, 4);
LH_FIELD(lhost_metric_state, buffers, 8, 8);
LH_FIELD(lhost_metric_state, rows, 16, 8);   /* since 1.1 */
LH_FIELD(lhost_metric_state, append, 24, 8); /* since 1.1 */

LH_SIZE(lhost_metric_batch, 40);
LH_FIELD(lhost_metric_batch, struct_size, 0, 4);
LH_FIELD(lhost_metric_batch, n, 8, 8);
LH_FIELD(lhost_metric_batch, num_classes, 16, 4);
LH_FIELD(lhost_metric_batch, scores_are_probs, 20, 4);
LH_FIELD(lhost_metric_batch, scores, 24, 8);
LH_FIELD(lhost_metric_batch, targets, 32, 8);

LH_SIZE(lhost_metric_vtable, 48);
LH_FIELD(lhost_metric_vtable, struct_size, 0, 4);
LH_FIELD(lhost_metric_vtable, higher_is_better, 4, 4);
LH_FIELD(lhost_metric_vtable, create, 8, 8);
LH_FIELD(lhost_metric_vtable, destroy, 16, 8);
LH_FIELD(lhost_metric_vtable, state_layout, 24, 8);
LH_FIELD(lhost_metric_vtable, update, 32, 8);
LH_FIELD(lhost_metric_vtable, compute, 40, 8);

/* logger.h (lhost_log_row: padding after struct_size and after count; lhost_logger_vtable:
 * after struct_size) */
LH_SIZE(lhost_log_row, 48);
LH_FIELD(lhost_log_row, struct_size, 0, 4);
LH_FIELD(lhost_log_row, epoch, 8, 8);
LH_FIELD(lhost_log_row, step, 16, 8);
LH_FIELD(lhost_log_row, count, 24, 4);
LH_FIELD(lhost_log_row, keys, 32, 8);
LH_FIELD(lhost_log_row, values, 40, 8);

LH_SIZE(lhost_logger_vtable, 48);
LH_FIELD(lhost_logger_vtable, struct_size, 0, 4);
LH_FIELD(lhost_logger_vtable, create, 8, 8);
LH_FIELD(lhost_logger_vtable, destroy, 16, 8);
LH_FIELD(lhost_logger_vtable, log_hparams, 24, 8);
LH_FIELD(lhost_logger_vtable, log_row, 32, 8);
LH_FIELD(lhost_logger_vtable, finalize, 40, 8);

/* plugin.h (lhost_library: padding after n_plugins) */
LH_SIZE(lhost_plugin_desc, 64);
LH_FIELD(lhost_plugin_desc, struct_size, 0, 4);
LH_FIELD(lhost_plugin_desc, kind, 4, 4);
LH_FIELD(lhost_plugin_desc, id, 8, 8);
LH_FIELD(lhost_plugin_desc, name, 16, 8);
LH_FIELD(lhost_plugin_desc, version, 24, 8);
LH_FIELD(lhost_plugin_desc, description, 32, 8);
LH_FIELD(lhost_plugin_desc, params, 40, 8);
LH_FIELD(lhost_plugin_desc, n_params, 48, 4);
LH_FIELD(lhost_plugin_desc, priority, 52, 4);
LH_FIELD(lhost_plugin_desc, vtable, 56, 8);

LH_SIZE(lhost_library, 40);
LH_FIELD(lhost_library, struct_size, 0, 4);
LH_FIELD(lhost_library, abi, 4, 12);
LH_FIELD(lhost_library, error, 16, 8);
LH_FIELD(lhost_library, n_plugins, 24, 4);
LH_FIELD(lhost_library, plugins, 32, 8);

int lh_abi_layout_frozen(void) { return 1; }

#else

int lh_abi_layout_frozen(void) { return 0; }

#endif
