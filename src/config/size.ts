import { ConfigError } from '../errors.js';

/**
 * Sizes on the command line: a whole number of bytes ("1048576") or a number with a unit.
 *
 *   B                      bytes
 *   KiB  MiB  GiB  TiB     binary: 1024, 1024², 1024³, 1024⁴
 *   k/K  m/M  g/G  t/T     short binary forms, as in nginx and `java -Xmx` ("64k" = 65536)
 *   kB/KB  MB  GB  TB      decimal (SI): 1000, 1000², ... ("1MB" = 1000000)
 *
 * Fractions are accepted when they come out as whole bytes ("1.5KiB" = 1536, "0.5k" = 512).
 * No spaces, no signs, no exponents; units are case-sensitive as listed ("mb" and "kib" are
 * rejected rather than guessed).
 */

const KI = 1024n;
const UNIT_BYTES: ReadonlyMap<string, bigint> = new Map([
  ['B', 1n],
  ['k', KI],
  ['K', KI],
  ['KiB', KI],
  ['kB', 1000n],
  ['KB', 1000n],
  ['m', KI ** 2n],
  ['M', KI ** 2n],
  ['MiB', KI ** 2n],
  ['MB', 1000n ** 2n],
  ['g', KI ** 3n],
  ['G', KI ** 3n],
  ['GiB', KI ** 3n],
  ['GB', 1000n ** 3n],
  ['t', KI ** 4n],
  ['T', KI ** 4n],
  ['TiB', KI ** 4n],
  ['TB', 1000n ** 4n],
]);

/** Units formatSize prefers, largest first: exact binary units, then exact decimal ones. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['TiB', KI ** 4n],
  ['GiB', KI ** 3n],
  ['MiB', KI ** 2n],
  ['KiB', KI],
  ['TB', 1000n ** 4n],
  ['GB', 1000n ** 3n],
  ['MB', 1000n ** 2n],
  ['kB', 1000n],
];

const EXAMPLES = 'use e.g. 512B, 64KiB, 1MiB, 1048576';

function invalid(text: string, reason: string): ConfigError {
  return new ConfigError(`invalid size ${JSON.stringify(text)} (${reason})`);
}

/** Parses a size ("1MiB", "16KiB", "64k", "1MB", "1048576") into bytes; throws ConfigError naming the value. */
export function parseSize(text: string): number {
  if (text.startsWith('-')) throw invalid(text, 'must not be negative');
  const m = /^(\d+)(?:\.(\d+))?([A-Za-z]*)$/.exec(text);
  if (m === null) throw invalid(text, EXAMPLES);
  const [, intText, fracText = '', unit] = m as unknown as [string, string, string | undefined, string];
  let unitBytes = 1n;
  if (unit !== '') {
    const known = UNIT_BYTES.get(unit);
    if (known === undefined) throw invalid(text, `unknown unit ${JSON.stringify(unit)}; use B, KiB, MiB, GiB, k, m, g, kB, MB or GB`);
    unitBytes = known;
  }
  const scale = 10n ** BigInt(fracText.length);
  const fracBytes = BigInt(fracText || '0') * unitBytes;
  if (fracBytes % scale !== 0n) throw invalid(text, 'not a whole number of bytes');
  const total = BigInt(intText) * unitBytes + fracBytes / scale;
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(text, 'too large');
  return Number(total);
}

/** Formats bytes the way parseSize reads them: 1048576 → "1MiB", 16384 → "16KiB", 1000000 → "1MB", 1000 → "1kB", 0 → "0B", 1500 → "1500B". */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`formatSize: not a whole, non-negative number of bytes: ${bytes}`);
  const b = BigInt(bytes);
  if (b > 0n) {
    for (const [unit, unitBytes] of FORMAT_UNITS) {
      if (b % unitBytes === 0n) return `${b / unitBytes}${unit}`;
    }
  }
  return `${b}B`;
}
