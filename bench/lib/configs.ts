/**
 * The benchmark's load: the number of function paths, the body sizes and the wrk Lua scripts. The
 * nginx and HAProxy configurations are in harness/peers.ts.
 */

/** Number of distinct function paths the load spreads over. */
export const FUNCTIONS = 100_000;
export const BIG_BODY_BYTES = 16 * 1024;
export const POST_BODY_BYTES = 4 * 1024;

export type WrkScenario = 'get-small' | 'get-16k' | 'post-4k';

/**
 * wrk script: a random function path per request (so consistent hashing spreads the load and the
 * proxies' caches see 100k keys), seeded from the script argument. /big/fN varies the path rather
 * than the query: fnlb and HAProxy's `balance uri` hash the path only. `done` prints one JSON line.
 */
export function wrkScript(scenario: WrkScenario): string {
  const prefix = scenario === 'get-16k' ? '/big/f' : '/r/app/f';
  const post =
    scenario === 'post-4k'
      ? `wrk.method = "POST"
wrk.body = string.rep("x", ${POST_BODY_BYTES})
wrk.headers["Content-Type"] = "application/octet-stream"
`
      : '';
  return `${post}function init(args)
  math.randomseed(tonumber(args[1] or "1"))
end

function request()
  return wrk.format(nil, "${prefix}" .. math.random(0, ${FUNCTIONS - 1}))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}
