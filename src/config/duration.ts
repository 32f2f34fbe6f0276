import { ConfigError } from '../errors.js';

/**
 * Durations on the command line: a sequence of `<number><unit>` parts with the units
 * h, m, s, ms, largest first and each at most once ("500ms", "2s", "1.5s", "1m30s", "1h").
 * A bare number is rejected (is "5" seconds or milliseconds?) except "0".
 * The result must be a whole number of milliseconds and fit a Node.js timer.
 */

/** Largest duration a Node.js timer can wait (2^31 - 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const UNITS = [
  ['h', 3_600_000n],
  ['m', 60_000n],
  ['s', 1000n],
  ['ms', 1n],
] as const;

const UNIT_MS: ReadonlyMap<string, bigint> = new Map(UNITS);
const UNIT_RANK: ReadonlyMap<string, number> = new Map(UNITS.map(([unit], i) => [unit, i]));

const EXAMPLES = 'use e.g. 500ms, 2s, 1m';

function invalid(text: string, reason: string): ConfigError {
  return new ConfigError(`invalid duration ${JSON.stringify(text)} (${reason})`);
}

/** Parses a duration ("500ms", "2s", "1m30s", "0") into milliseconds; throws ConfigError naming the value. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (/^\d+(?:\.\d+)?$/.test(text)) throw invalid(text, `a unit is required: ${EXAMPLES}`);
  if (text.startsWith('-')) throw invalid(text, 'must not be negative');

  // "ms" must be tried before "m".
  const part = /(\d+)(?:\.(\d+))?(ms|h|m|s)/y;
  let total = 0n;
  let lastRank = -1;
  let pos = 0;
  if (text.length === 0) throw invalid(text, EXAMPLES);
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (m === null) throw invalid(text, EXAMPLES);
    const [whole, intText, fracText = '', unit] = m as unknown as [string, string, string | undefined, string];
    const rank = UNIT_RANK.get(unit)!;
    if (rank <= lastRank) throw invalid(text, 'units must go from largest to smallest, each at most once');
    lastRank = rank;
    const unitMs = UNIT_MS.get(unit)!;
    // Exact arithmetic: int * unit + frac * unit / 10^digits, which must come out whole.
    const scale = 10n ** BigInt(fracText.length);
    const fracMs = BigInt(fracText || '0') * unitMs;
    if (fracMs % scale !== 0n) throw invalid(text, 'not a whole number of milliseconds');
    total += BigInt(intText) * unitMs + fracMs / scale;
    pos += whole.length;
  }
  if (total > BigInt(MAX_DURATION_MS)) throw invalid(text, `at most ${formatDuration(MAX_DURATION_MS)}`);
  return Number(total);
}

/**
 * Formats whole milliseconds the way parseDuration reads them, largest units first:
 * 1000 → "1s", 500 → "500ms", 300000 → "5m", 90500 → "1m30s500ms", 0 → "0s".
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`formatDuration: not a whole, non-negative number of milliseconds: ${ms}`);
  if (ms === 0) return '0s';
  let rest = BigInt(ms);
  let out = '';
  for (const [unit, unitMs] of UNITS) {
    const n = rest / unitMs;
    if (n > 0n) {
      out += `${n}${unit}`;
      rest -= n * unitMs;
    }
  }
  return out;
}
