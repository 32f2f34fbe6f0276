/**
 * Waiting, for every test, benchmark and script: `sleep`, `eventually` (retry until it holds) and
 * `withTimeout`. Kept apart from processes.ts so that the fake nodes (which run as child processes)
 * can use them without loading the process registry and its exit hook.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects with `message()` if `p` does not settle within ms. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Retries fn until it returns without throwing, or rejects with the last error after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T> | T, timeoutMs = 5000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`eventually: gave up after ${timeoutMs} ms: ${(last as Error)?.message ?? String(last)}`);
    await sleep(intervalMs);
  }
}
