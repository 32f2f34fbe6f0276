/**
 * nginx and HAProxy as peers of fnlb, for the benchmark, the resource-abuse run and the request corpus:
 * where their executables are, and their configurations. Each is set up the way it is measured against
 * fnlb: one worker (nginx) or thread (HAProxy), consistent hashing on the path, keep-alive to the
 * backends, no access log.
 */
import { existsSync } from 'node:fs';

/** Absolute path of `name` on PATH or in the sbin directories (nginx and haproxy live there, off a user's PATH). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  return dirs
    .filter(Boolean)
    .map((d) => `${d}/${name}`)
    .find((p) => existsSync(p));
}

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

/** One thread, HTTP mode, keep-alive: how every HAProxy here starts (its `defaults` section goes on after). */
const HAPROXY_COMMON = `global
  nbthread 1
  maxconn 8000

defaults
  mode http
  option http-keep-alive
`;

/**
 * Three backends that answer as Go's net/http does (IronFunctions nodes are Go): no Connection line on a
 * keep-alive response, so a proxy may pass their heads on unchanged. One HAProxy (one thread) answering
 * every path itself with a small `ok`, and IronFunctions' /version for health checks.
 */
export function goLikeBackendsConf(ports: number[]): string {
  return `${HAPROXY_COMMON}  timeout client 300s
  timeout http-request 10s
  timeout http-keep-alive 300s

frontend nodes
${ports.map((p) => `  bind 127.0.0.1:${p}\n`).join('')}  http-request return status 200 content-type application/json string '{"version":"0.2.72"}' if { path /version }
  http-request return status 200 content-type text/plain string "ok\\n"
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
  return `${HAPROXY_COMMON}  maxconn 8000
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
