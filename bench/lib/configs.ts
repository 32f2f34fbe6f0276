/**
 * Generated configurations: the nginx backends, the nginx and HAProxy proxies, and the wrk Lua
 * scripts. Every peer is set up as FACTS §6 measured it: one worker, consistent hashing on the
 * path, keep-alive to the backends, no access log.
 */

/** Number of distinct function paths the load spreads over. */
export const FUNCTIONS = 100_000;
export const BIG_BODY_BYTES = 16 * 1024;
export const POST_BODY_BYTES = 4 * 1024;

/**
 * nginx's defaults write to /var/lib/nginx and /var/log/nginx: point everything at `dir` so the
 * benchmark needs no system paths. keepalive_requests is raised (default 1000) so neither clients nor
 * upstream pools reconnect mid-run; wrk would hide it, but it is setup cost, not proxying.
 */
function nginxCommon(dir: string, name: string): string {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 10000; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}-tmp/body;
  proxy_temp_path ${dir}/${name}-tmp/proxy;
  fastcgi_temp_path ${dir}/${name}-tmp/fastcgi;
  uwsgi_temp_path ${dir}/${name}-tmp/uwsgi;
  scgi_temp_path ${dir}/${name}-tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
`;
}

/**
 * Three backends in one nginx (one worker): small `ok` for any path and method, a 16 KiB static
 * file for any /big/... path, and IronFunctions' /version for health checks.
 */
export function backendsConf(dir: string, ports: number[]): string {
  const servers = ports
    .map(
      (p) => `  server {
    listen 127.0.0.1:${p} backlog=4096;
    root ${dir}/www;
    location = /version { default_type application/json; return 200 '{"version":"0.2.72"}'; }
    location /big/ { try_files /big.bin =404; }
    location / { return 200 'ok\\n'; }
  }
`,
    )
    .join('');
  return `${nginxCommon(dir, 'backends')}  default_type text/plain;
  sendfile on;
  open_file_cache max=16 inactive=300s;
  open_file_cache_valid 300s;
${servers}}
`;
}

export function nginxProxyConf(dir: string, port: number, backends: number[]): string {
  return `${nginxCommon(dir, 'nginx-proxy')}  upstream fn {
    hash $request_uri consistent;
${backends.map((p) => `    server 127.0.0.1:${p};\n`).join('')}    keepalive 128;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://fn;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/**
 * HAProxy checks GET /version every 1 s like fnlb (nginx OSS has no active checks); `check: false`
 * leaves the checks out (the request corpus wants its backends to see client traffic only).
 */
export function haproxyConf(port: number, backends: number[], { check = true }: { check?: boolean } = {}): string {
  return `global
  nbthread 1
  maxconn 8000

defaults
  mode http
  option http-keep-alive
  maxconn 8000
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-request 10s
  timeout http-keep-alive 300s

frontend fe
  bind 127.0.0.1:${port}
  default_backend fn

backend fn
  balance uri
  hash-type consistent
  http-reuse always
${check ? '  option httpchk GET /version\n' : ''}${backends.map((p, i) => `  server n${i + 1} 127.0.0.1:${p}${check ? ' check inter 1s' : ''}\n`).join('')}`;
}

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
