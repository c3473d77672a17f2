/*
 * html.h - one self-contained HTML page of a report or a fleet report
 * (anonvma-report --html OUT.html).
 *
 * The page embeds the chart data as JSON and draws inline SVG with a small
 * script: no network, no external file.  Charts: live objects over time per
 * design (models.<m>.series), the fork-cost distribution
 * (models.<m>.fork_cost.total buckets), lock waits per class
 * (models.<m>.locks.<class>.<mode>.wait), the processes that save most
 * (top_processes), the verdict's sensitivity (verdict.sensitivity) and, for
 * a fleet, the spread of savings across hosts (savings_distribution).
 * Each chart's <figure> gets data-marks (marks drawn) and data-state
 * ("drawn", or "absent" with the reason shown on the page); <body> gets
 * data-charts-drawn, data-charts-absent and data-selfcheck ("ok" when every
 * chart whose data the report holds drew at least one mark), so a headless
 * browser can check the page (tests/e2e/report_html.sh).
 */
#ifndef ANONVMA_HTML_H
#define ANONVMA_HTML_H

#include <cjson/cJSON.h>

#include "error.h"

int html_write(const cJSON *report, const char *path, struct avm_err *err);

#endif
