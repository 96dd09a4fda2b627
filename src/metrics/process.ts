import { collectDefaultMetrics, Registry } from 'prom-client';

/** How often (ms) the event-loop delay histogram samples; prom-client's default, stated. */
const EVENT_LOOP_PRECISION_MS = 10;

let shared: Registry | null = null;

/**
 * The process's own metrics (CPU, memory, handles, GC, event-loop delay), once per process: each
 * collector keeps a sampler running, so apps built side by side (tests) share one set rather than
 * each starting its own. Not prom-client's global registry, which nothing here uses.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  }
  return shared;
}
