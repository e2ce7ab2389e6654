/* plugins/lr_schedulers/entry.c — lr_schedulers.so: the learning-rate schedulers step_lr,
 * cosine_annealing, one_cycle and reduce_lr_on_plateau (torch.optim.lr_scheduler's StepLR,
 * SequentialLR(LinearLR, CosineAnnealingLR), OneCycleLR, ReduceLROnPlateau), callbacks that
 * set the optimizer's lr through the host's set_hparam service. */
#include "lr_sched.h"

LHOST_PLUGIN_LIBRARY(&lhs_step_lr_desc, &lhs_cosine_desc, &lhs_one_cycle_desc, &lhs_plateau_desc);
