/**
 * A duration as Go's time.ParseDuration writes it (fnproject nodes are Go): "1.5s", "250ms", "2m3.5s",
 * "800us", "800µs", "120ns", or a plain number of milliseconds. Returns ms, or NaN if unreadable.
 * Header values are read byte for byte (latin1), and Go writes "µs" in UTF-8: its two bytes then read
 * as "Âµ" ("Î¼" for the Greek mu); both spellings are taken, as are the decoded ones.
 */
export function parseGoDuration(text: string): number {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t);
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|\u00c2\u00b5s|\u00ce\u00bcs|ns)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const n = Number(m[1]);
    const unit = m[2];
    total +=
      unit === 'h'
        ? n * 3_600_000
        : unit === 'm'
          ? n * 60_000
          : unit === 's'
            ? n * 1000
            : unit === 'ms'
              ? n
              : unit === 'ns'
                ? n / 1e6
                : n / 1000;
    matched = re.lastIndex;
  }
  return matched === t.length && matched > 0 ? total : NaN;
}
