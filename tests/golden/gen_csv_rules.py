#!/usr/bin/env python3
# tests/golden/gen_csv_rules.py — the metrics.csv Lightning 2.x's CSVLogger writes for the
# tutorial's logging calls (examples/seed.yaml: loss and acc/precision/recall for training and
# validation), on the run tests/unit/test_lightning_logs.c makes: 2 epochs of 4 training
# batches, log_every_n_steps 2. Writes csv_rules_expected.csv; values are "x" (the test checks
# columns, rows and which cells are filled; the values come from training).
#
# The rules, from lightning/fabric/loggers/csv_logs.py (_ExperimentWriter) and
# lightning/pytorch/trainer/connectors/logger_connector:
#  - each log_metrics call is one row; the logger connector adds "epoch", the writer "step";
#  - training_step: self.log("loss", loss) (on_step) and self.log(m, value, on_step=True,
#    on_epoch=True) for each metric: a key logged both ways is written as m_step in step rows and
#    m_epoch in the epoch-end row (the "forked" names); step rows go out every log_every_n_steps,
#    at step = batches stepped before this one;
#  - validation: self.log("val_loss"), self.log("val_" + m) on epoch: one row at the end of
#    validation, at the epoch's last step (validation runs before the step counter moves on);
#  - on_train_epoch_end: train_loss (the epoch mean of loss) and the m_epoch values: one row,
#    at the same step (fit_loop decrements the counter around it);
#  - the header is every key seen, sorted; missing cells are empty (DictWriter's restval).
import csv
import io

EPOCHS, BATCHES, EVERY = 2, 4, 2
METRICS = ["acc", "precision", "recall"]

rows, keys = [], []


def log_metrics(metrics, step, epoch):
    row = dict(metrics)
    row["epoch"] = epoch
    row["step"] = step
    rows.append(row)
    for k in row:
        if k not in keys:
            keys.append(k)
    keys.sort()


stepped = 0
for epoch in range(EPOCHS):
    for b in range(BATCHES):
        if (stepped + 1) % EVERY == 0:
            log_metrics({"loss": "x", **{m + "_step": "x" for m in METRICS}}, stepped, epoch)
        if b == BATCHES - 1:
            log_metrics({"val_loss": "x", **{"val_" + m: "x" for m in METRICS}}, stepped, epoch)
        stepped += 1
    log_metrics({"train_loss": "x", **{m + "_epoch": "x" for m in METRICS}}, stepped - 1, epoch)

out = io.StringIO()
w = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
w.writeheader()
w.writerows(rows)
with open("csv_rules_expected.csv", "w", newline="") as f:
    f.write(out.getvalue())
