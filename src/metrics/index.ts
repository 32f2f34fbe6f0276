export {
  DEFAULT_TOP_K,
  FunctionStats,
  mergeFunctions,
  type FallbackReason,
  type FunctionSnapshot,
  type SpillReason,
} from './function-stats.js';
export { createMetrics, type Metrics, type MetricsNode, type MetricsSource } from './prometheus.js';
export {
  DURATION_BUCKETS,
  mergeSnapshots,
  RECENT_FALLBACKS,
  TrafficStats,
  type HistogramSnapshot,
  type NodeTraffic,
  type RecentFallback,
  type StatsSnapshot,
} from './traffic-stats.js';
