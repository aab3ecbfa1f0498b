/* A training run's logs in its run directory, as luxonis-train keeps them
 * (reference §9):
 *
 *   luxonis_train.log   every line the user saw (run directory, epoch lines,
 *                       test results, warnings, errors), each stamped the way
 *                       luxonis-ml's loguru file sink stamps it:
 *                         2026-11-25 21:03:07 [INFO] epoch 1/10  train/loss ...
 *                       (the reference appends " | function:line"; a C
 *                       function name means nothing to a user, so it is left out)
 *   metrics.csv         every scalar the tracker would log, one row each:
 *                         name,value,step
 *                         train/loss,0.6931,0
 *                       step is the epoch (0-based, Lightning's current_epoch)
 *                       as in the reference's tracker.log_metric; this is the
 *                       offline form of its TensorBoard scalars and of the
 *                       {"name", "value", "step"} entries of luxonis-ml's
 *                       local_logs.json.
 *
 * Both files are line buffered: every line reaches the file as it is
 * written, so a killed run keeps its log up to the last epoch.
 *
 * Writing is best effort: a failed write never stops training. */
#ifndef LTRAIN_CORE_RUN_LOG_H
#define LTRAIN_CORE_RUN_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include <ltrain/common.h>

typedef enum lt_log_level { LT_LOG_INFO, LT_LOG_WARNING, LT_LOG_ERROR } lt_log_level;

typedef struct lt_run_log lt_run_log;

/* Creates <dir>/luxonis_train.log and <dir>/metrics.csv (with its header).
 * NULL with an error naming the file. */
lt_run_log *lt_run_log_open(const char *dir);
void lt_run_log_close(lt_run_log *log);

/* One message (printf format) into luxonis_train.log; a message of several
 * lines gets the stamp on each. log may be NULL (nothing happens). */
void lt_run_log_line(lt_run_log *log, lt_log_level level, const char *fmt, ...) LT_PRINTF(3, 4);
void lt_run_log_vline(lt_run_log *log, lt_log_level level, const char *fmt, va_list ap);

/* One row of metrics.csv. log may be NULL. */
void lt_run_log_metric(lt_run_log *log, const char *name, double value, int64_t step);

#endif
