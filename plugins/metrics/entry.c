/* plugins/metrics/entry.c — the descriptors and parameter schemas of the nine metrics in
 * metrics.so, and lhost_plugin_entry, its only exported symbol. */
#include "lhm.h"

#define LHM_VERSION "1.0.0"

static const char *const average_choices[] = {"micro", "macro", "weighted", "none", NULL};
static const char *const normalize_choices[] = {"none", "true", "pred", "all", NULL};
static const char *const rank_average_choices[] = {"macro", "weighted", "none", NULL};

#define P_NUM_CLASSES(maxc)                                                                   \
    {sizeof(lhost_param), LHOST_PARAM_INT, "num_classes",                                     \
     "number of classes = columns of the model's output (default 10, the tutorial's "         \
     "Fashion-MNIST/MNIST); a batch with another width is an error",                          \
     "10", NULL, 2, maxc, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX | LHOST_PARAM_IDENTITY}
#define P_AVERAGE                                                                             \
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "average",                                        \
     "how per-class scores combine: micro (global counts), macro (default, as torchmetrics; " \
     "unweighted mean over classes seen in targets or predictions), weighted (by support), "  \
     "none (one value per class, logged <name>_<k>). Lightning 1.0's tutorial used micro, "   \
     "where precision = recall = accuracy for single-label data",                             \
     "macro", average_choices, 0, 0, 0}
#define P_TOP_K                                                                               \
    {sizeof(lhost_param), LHOST_PARAM_INT, "top_k",                                           \
     "a sample predicts its top_k highest-scoring classes (1 = argmax); at most num_classes", \
     "1", NULL, 1, 0, LHOST_PARAM_HAS_MIN}
#define P_IGNORE_INDEX                                                                        \
    {sizeof(lhost_param), LHOST_PARAM_INT, "ignore_index",                                    \
     "samples whose target equals this value are not counted (default: unset, count all)",    \
     NULL, NULL, 0, 0, 0}
#define P_ZERO_DIVISION                                                                       \
    {sizeof(lhost_param), LHOST_PARAM_INT, "zero_division",                                   \
     "value (0 or 1) of a score whose denominator is 0, e.g. precision of a class never "     \
     "predicted",                                                                             \
     "0", NULL, 0, 1, LHOST_PARAM_HAS_MIN | LHOST_PARAM_HAS_MAX}
#define P_NAME(dflt)                                                                          \
    {sizeof(lhost_param), LHOST_PARAM_STRING, "name",                                         \
     "log key ([A-Za-z0-9_./-]); validation logs val_<name>, average=none <name>_<k>",        \
     dflt, NULL, 0, 0, LHOST_PARAM_IDENTITY}
#define P_BETA                                                                                \
    {sizeof(lhost_param), LHOST_PARAM_FLOAT, "beta",                                          \
     "weight of recall against precision (> 0; beta > 1 favours recall)", "1.0", NULL, 0, 0,  \
     LHOST_PARAM_HAS_MIN}
#define P_NORMALIZE                                                                           \
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "normalize",                                      \
     "none (counts, default), true (rows sum to 1), pred (columns sum to 1), all (sums to 1)", \
     "none", normalize_choices, 0, 0, 0}

#define P_RANK_AVERAGE                                                                        \
    {sizeof(lhost_param), LHOST_PARAM_ENUM, "average",                                        \
     "how the one-vs-rest per-class scores combine: macro (default, unweighted mean), "       \
     "weighted (by the number of targets of each class), none (one value per class, logged "  \
     "<name>_<k>)",                                                                           \
     "macro", rank_average_choices, 0, 0, 0}
#define P_THRESHOLDS                                                                          \
    {sizeof(lhost_param), LHOST_PARAM_STRING, "thresholds",                                   \
     "None (default; also null): exact, every probability is kept for the epoch (host cat "   \
     "state, bounded by max_samples); an integer T >= 2: binned at linspace(0, 1, T), fixed " \
     "memory of T * num_classes * 4 counts (torchmetrics' thresholds)",                       \
     NULL, NULL, 0, 0, LHOST_PARAM_IDENTITY}
#define P_MAX_SAMPLES                                                                         \
    {sizeof(lhost_param), LHOST_PARAM_INT, "max_samples",                                     \
     "thresholds=None only: the most samples one epoch (or one validation) may hold; more is " \
     "an error naming this bound (memory: 8 * num_classes + 4 bytes a sample)",               \
     "4194304", NULL, 1, 0, LHOST_PARAM_HAS_MIN}
#define RANK_PARAMS(short_name)                                                               \
    P_NUM_CLASSES(65536), P_RANK_AVERAGE, P_THRESHOLDS, P_IGNORE_INDEX, P_MAX_SAMPLES,         \
        P_NAME(short_name)

#define STAT_PARAMS(short_name)                                                               \
    P_NUM_CLASSES(65536), P_AVERAGE, P_TOP_K, P_IGNORE_INDEX, P_ZERO_DIVISION, P_NAME(short_name)

static const lhost_param accuracy_params[] = {STAT_PARAMS("accuracy")};
static const lhost_param precision_params[] = {STAT_PARAMS("precision")};
static const lhost_param recall_params[] = {STAT_PARAMS("recall")};
static const lhost_param f1_params[] = {STAT_PARAMS("f1")};
static const lhost_param fbeta_params[] = {STAT_PARAMS("fbeta"), P_BETA};
static const lhost_param specificity_params[] = {STAT_PARAMS("specificity")};
static const lhost_param auroc_params[] = {RANK_PARAMS("auroc")};
static const lhost_param ap_params[] = {RANK_PARAMS("average_precision")};
static const lhost_param confmat_params[] = {P_NUM_CLASSES(4096), P_IGNORE_INDEX, P_NORMALIZE,
                                             P_NAME("confusion_matrix")};

/* One create() per kind; everything else is shared. */
#define CREATE_FN(fn, kind)                                                                   \
    static int32_t fn(const lhost_host *host, lhost_ctx *ctx, const lhost_param_values *pv,   \
                      void **self)                                                            \
    {                                                                                         \
        return lhm_create(kind, host, ctx, pv, self);                                         \
    }
CREATE_FN(create_accuracy, LHM_ACCURACY)
CREATE_FN(create_precision, LHM_PRECISION)
CREATE_FN(create_recall, LHM_RECALL)
CREATE_FN(create_f1, LHM_F1)
CREATE_FN(create_fbeta, LHM_FBETA)
CREATE_FN(create_specificity, LHM_SPECIFICITY)
CREATE_FN(create_confmat, LHM_CONFUSION_MATRIX)
CREATE_FN(create_auroc, LHM_AUROC)
CREATE_FN(create_ap, LHM_AVERAGE_PRECISION)

#define STAT_VTABLE(create_fn)                                                                \
    {sizeof(lhost_metric_vtable), 1, create_fn, lhm_destroy, lhm_state_layout,                \
     lhm_stat_update, lhm_stat_compute}

static const lhost_metric_vtable accuracy_vt = STAT_VTABLE(create_accuracy);
static const lhost_metric_vtable precision_vt = STAT_VTABLE(create_precision);
static const lhost_metric_vtable recall_vt = STAT_VTABLE(create_recall);
static const lhost_metric_vtable f1_vt = STAT_VTABLE(create_f1);
static const lhost_metric_vtable fbeta_vt = STAT_VTABLE(create_fbeta);
static const lhost_metric_vtable specificity_vt = STAT_VTABLE(create_specificity);
/* A confusion matrix is not a score: higher_is_better = 0 (a callback monitoring one of its
 * cells must give its mode explicitly). */
static const lhost_metric_vtable confmat_vt = {sizeof(lhost_metric_vtable), 0, create_confmat,
                                               lhm_destroy, lhm_state_layout,
                                               lhm_confmat_update, lhm_confmat_compute};

#define RANK_VTABLE(create_fn)                                                                \
    {sizeof(lhost_metric_vtable), 1, create_fn, lhm_destroy, lhm_state_layout,                \
     lhm_rank_update, lhm_rank_compute}
static const lhost_metric_vtable auroc_vt = RANK_VTABLE(create_auroc);
static const lhost_metric_vtable ap_vt = RANK_VTABLE(create_ap);

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))
#define DESC(var, short_name, text, params, vt)                                               \
    static const lhost_plugin_desc var = {sizeof(lhost_plugin_desc), LHOST_KIND_METRIC,       \
                                          "org.lhost." short_name, short_name, LHM_VERSION,   \
                                          text, params, N(params), LHOST_PRIORITY_DEFAULT, &vt}

DESC(accuracy_desc, "accuracy",
     "multiclass accuracy from logits, optionally top-k (torchmetrics MulticlassAccuracy)",
     accuracy_params, accuracy_vt);
DESC(precision_desc, "precision",
     "multiclass precision tp/(tp+fp) (torchmetrics MulticlassPrecision)", precision_params,
     precision_vt);
DESC(recall_desc, "recall", "multiclass recall tp/(tp+fn) (torchmetrics MulticlassRecall)",
     recall_params, recall_vt);
DESC(f1_desc, "f1", "multiclass F1 score (torchmetrics MulticlassF1Score)", f1_params, f1_vt);
DESC(fbeta_desc, "fbeta", "multiclass F-beta score (torchmetrics MulticlassFBetaScore)",
     fbeta_params, fbeta_vt);
DESC(specificity_desc, "specificity",
     "multiclass specificity tn/(tn+fp) (torchmetrics MulticlassSpecificity)",
     specificity_params, specificity_vt);
DESC(confmat_desc, "confusion_matrix",
     "multiclass confusion matrix, row = target, column = prediction, logged row-major as "
     "<name>_<target*num_classes+pred> (torchmetrics MulticlassConfusionMatrix)",
     confmat_params, confmat_vt);
DESC(auroc_desc, "auroc",
     "multiclass one-vs-rest area under the ROC curve from logits, exact or binned "
     "(torchmetrics MulticlassAUROC)",
     auroc_params, auroc_vt);
DESC(ap_desc, "average_precision",
     "multiclass one-vs-rest average precision from logits, exact or binned (torchmetrics "
     "MulticlassAveragePrecision)",
     ap_params, ap_vt);

const lhost_plugin_desc *const lhm_plugins[LHM_COUNT] = {
    [LHM_ACCURACY] = &accuracy_desc,       [LHM_PRECISION] = &precision_desc,
    [LHM_RECALL] = &recall_desc,           [LHM_F1] = &f1_desc,
    [LHM_FBETA] = &fbeta_desc,             [LHM_SPECIFICITY] = &specificity_desc,
    [LHM_CONFUSION_MATRIX] = &confmat_desc, [LHM_AUROC] = &auroc_desc,
    [LHM_AVERAGE_PRECISION] = &ap_desc};

static const lhost_library library = {sizeof(lhost_library), LHOST_ABI_VERSION_INIT, NULL,
                                      LHM_COUNT, lhm_plugins};

LHOST_EXPORT const lhost_library *lhost_plugin_entry(const lhost_version *host_abi,
                                                     const lhost_host *host)
{
    (void)host_abi; /* the host compares versions itself, from library.abi */
    (void)host;
    return &library;
}
