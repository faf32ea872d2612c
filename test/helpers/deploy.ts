// What the deploy/ checks share (test/unit/deploy.test.ts, test/integration/serve.test.ts):
// the metric names a query uses, and every query of the Grafana dashboard.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HISTOGRAMS, METRIC_NAMES } from '../../src/output/metrics.js';

export const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const readDeploy = (f: string) => readFileSync(`${DEPLOY}${f}`, 'utf8');

/** The isolwatch metric names an expression uses. */
export function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\bisolwatch_[a-z_]+/g)].map((m) => m[0]))];
}

/** A name isolwatch exports: a family, or a histogram family's _bucket, _sum or _count series. */
export function knownMetric(name: string): boolean {
  if ((METRIC_NAMES as readonly string[]).includes(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && (HISTOGRAMS as readonly string[]).includes(base);
}

/** Every `expr` in the dashboard's panels, with its panel's title. */
export function dashboardExprs(): { panel: string; expr: string }[] {
  const d = JSON.parse(readDeploy('grafana-dashboard.json')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

/** A dashboard query with Grafana's variables given values Prometheus can evaluate ($__range: `range`). */
export function concreteQuery(expr: string, range = '5m'): string {
  return expr
    .replace(/\$__rate_interval/g, '1m')
    .replace(/\$__range/g, range)
    .replace(/\$instance/g, '.*')
    .replace(/\$cpu/g, '.*')
    .replace(/\$top/g, '10');
}
