/**
 * The login form of the admin listener (GET /login, and the answer to a wrong token): self-contained
 * HTML that POSTs the token form-encoded to /login, which sets the session cookie and sends the browser
 * back to the dashboard.
 */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function loginPage(error?: string): string {
  const message = error === undefined ? '' : `<p class="error" role="alert" data-testid="login-error">${escapeHtml(error)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fnlb dashboard - sign in</title>
<style>
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --fg:#1d2330; --muted:#6a7282; --line:#dde1e8; --accent:#3563c9; --bad:#d64545; }
@media (prefers-color-scheme: dark) { :root { --bg:#14171c; --panel:#1c2027; --fg:#e3e7ee; --muted:#8d95a3; --line:#2c323c; --accent:#6d93ea; --bad:#ef5b5b; } }
body { margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center; background:var(--bg); color:var(--fg);
  font:14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width:min(420px, 92vw); background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:20px 24px; }
h1 { margin:0 0 4px; font-size:20px; }
p { margin:8px 0; }
.muted { color:var(--muted); font-size:13px; }
.error { color:var(--bad); font-weight:600; }
form { display:flex; gap:8px; margin:14px 0; }
input { flex:1; padding:7px 9px; border:1px solid var(--line); border-radius:6px; background:var(--bg); color:var(--fg); font:inherit; }
button { padding:7px 14px; border:1px solid var(--accent); border-radius:6px; background:var(--accent); color:#fff; font:inherit; cursor:pointer; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
</style>
</head>
<body>
<main>
<h1>fnlb</h1>
<p class="muted">The dashboard needs the admin token (<code>--admin-token</code> or <code>FNLB_ADMIN_TOKEN</code>).</p>
${message}
<form method="post" action="/login" data-testid="login-form">
  <input type="password" name="token" data-testid="login-token" placeholder="admin token" aria-label="admin token" autocomplete="current-password" required autofocus>
  <button type="submit" data-testid="login-button">Sign in</button>
</form>
<p class="muted">Or open <code>/?token=&lt;token&gt;</code> once. Either way a cookie keeps the session until fnlb restarts, and the token leaves the address bar.</p>
</main>
</body>
</html>
`;
}
