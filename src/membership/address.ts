/**
 * A function node as configured by the operator. `id` is the node's identity for hashing:
 * the normalized configured address, so every fnlb instance given the same list ranks alike.
 */
export interface NodeAddress {
  /** Normalized identity: "host:port" (IPv6 as "[::1]:8080"), plus the base path if any ("host:port/base"). */
  readonly id: string;
  /** Host name or IP literal, without brackets. */
  readonly host: string;
  readonly port: number;
  /** Path prefix for every forwarded request ("" or "/base", never a trailing slash). */
  readonly basePath: string;
  /** Relative weight for rendezvous hashing (default 1, > 0). */
  readonly weight: number;
}
