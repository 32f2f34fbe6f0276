/** Placeholder until the dashboard lands. */
export function dashboardPage(): string {
  return '<!doctype html><title>fnlb</title><p>fnlb</p>';
}
