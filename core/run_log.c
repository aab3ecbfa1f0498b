/* A run's luxonis_train.log and metrics.csv (core/run_log.h). */
#include "run_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ltrain/common.h>

enum { LINE_SIZE = 4096 };

struct lt_run_log {
    FILE *text;    /* luxonis_train.log */
    FILE *metrics; /* metrics.csv */
};

static FILE *create(const char *dir, const char *name)
{
    char path[LINE_SIZE];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        lt_set_error("%s: path too long", dir);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        lt_set_error("%s: cannot create: %s", path, strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0); /* each line on disk at once: a killed run keeps it */
    return f;
}

lt_run_log *lt_run_log_open(const char *dir)
{
    lt_run_log *log = calloc(1, sizeof *log);
    if (!log) {
        lt_set_error("run log: out of memory");
        return NULL;
    }
    if (!(log->text = create(dir, "luxonis_train.log")) || !(log->metrics = create(dir, "metrics.csv"))) {
        lt_run_log_close(log);
        return NULL;
    }
    fputs("name,value,step\n", log->metrics);
    return log;
}

void lt_run_log_close(lt_run_log *log)
{
    if (!log) return;
    if (log->text) fclose(log->text);
    if (log->metrics) fclose(log->metrics);
    free(log);
}

static const char *level_name(lt_log_level level)
{
    return level == LT_LOG_ERROR ? "ERROR" : level == LT_LOG_WARNING ? "WARNING" : "INFO";
}

void lt_run_log_vline(lt_run_log *log, lt_log_level level, const char *fmt, va_list ap)
{
    if (!log) return;
    char text[LINE_SIZE], stamp[32];
    vsnprintf(text, sizeof text, fmt, ap);
    const time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    for (const char *line = text; *line;) {
        const size_t n = strcspn(line, "\n");
        if (n > 0) fprintf(log->text, "%s [%s] %.*s\n", stamp, level_name(level), (int)n, line);
        line += n + (line[n] == '\n');
    }
}

void lt_run_log_line(lt_run_log *log, lt_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lt_run_log_vline(log, level, fmt, ap);
    va_end(ap);
}

void lt_run_log_metric(lt_run_log *log, const char *name, double value, int64_t step)
{
    if (!log) return;
    /* RFC 4180: a name with a comma or quote is quoted, its quotes doubled. */
    if (strpbrk(name, ",\"\n")) {
        fputc('"', log->metrics);
        for (const char *c = name; *c; c++) {
            if (*c == '"') fputc('"', log->metrics);
            fputc(*c, log->metrics);
        }
        fputc('"', log->metrics);
    } else {
        fputs(name, log->metrics);
    }
    if (isfinite(value))
        fprintf(log->metrics, ",%.9g,%lld\n", value, (long long)step);
    else
        fprintf(log->metrics, ",%s,%lld\n", isnan(value) ? "nan" : value > 0 ? "inf" : "-inf", (long long)step);
}
