/** Placeholder until the dashboard lands. */
export function loginPage(error?: string): string {
  return `<!doctype html><title>fnlb login</title><form method="post" action="/login"><input name="token">${error ?? ''}</form>`;
}
