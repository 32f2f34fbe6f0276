/** fnlb as a library: the balancer, the original's entry point, the routing pieces, and the client half (a fallback dispatcher for undici). */
export { createBalancer, consistentHashProxy, resolveOptions } from './balancer.js';
export type { Balancer, BalancerInit, BalancerEvents, NodeStatus, RequestInfo, RejectedInfo } from './balancer.js';
export { NoFallbackNodeError, ConfigError } from './errors.js';
export { rankNodes, Ranking, hashString } from './hashing/rendezvous.js';
export type { WeightedNode } from './hashing/rendezvous.js';
export { functionKey, headerKey } from './hashing/routing-key.js';
export { parseNodeAddress, parseNodeList } from './config/parse-address.js';
export type { NodeAddress } from './membership/address.js';
export { DEFAULT_OPTIONS } from './config/options.js';
export type { BalancerOptions, HashKeySource, AccessLogMode } from './config/options.js';
export { parseDuration } from './config/duration.js';
export { parseSize } from './config/size.js';
export { createFallbackDispatcher, FallbackDispatcher } from './client/dispatcher.js';
export type { FallbackDispatcherEvents } from './client/dispatcher.js';
export type { FallbackDispatcherOptions } from './client/options.js';
