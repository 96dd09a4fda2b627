import type { Config } from '../config.js';
import type { Metrics, MetricsOptions } from './metrics.js';

/**
 * The instance's metrics when something can serve them (METRICS_TOKEN or METRICS_PORT), else none:
 * prom-client and its samplers (about 10 MB resident) are loaded only then.
 */
export async function createMetrics(
  config: Pick<Config, 'metricsToken' | 'metricsPort'>,
  options: MetricsOptions,
): Promise<Metrics | undefined> {
  if (config.metricsToken === null && config.metricsPort === null) return undefined;
  const { Metrics } = await import('./metrics.js');
  return new Metrics(options);
}
