/**
 * The retry policy (src/engine/retry-policy.ts), row for row against the README's table "When a request
 * is retried, and when it is not" and the paragraphs around it, then its invariants as properties.
 *
 * Columns of the table: a request whose method is idempotent and whose body was kept (GET, HEAD,
 * OPTIONS, PUT, DELETE), and one that is not (POST, PATCH) or whose body was too big to keep (any
 * method). Each case names the row, the request, the connection and the option it varies.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';

import {
  decideNoNodeLeft,
  decideRetry,
  maySendAgain,
  nothingReachedNode,
  type AttemptOutcome,
  type Failure,
  type RetryDecision,
} from '../../src/engine/retry-policy.js';

const TIMEOUT = 'gateway timeout: node did not answer in time';
const NO_FALLBACK = 'no fallback node found - whole cluster seems offline';

const ALL_FAILURES: readonly Failure[] = [
  'connect-refused',
  'connect-timeout',
  'closed-before-send',
  'reset-after-send',
  'closed-after-send',
  'node-down-before-send',
  'node-down-after-send',
  'node-silent-after-send',
  'response-timeout',
  'bad-response',
];

/** The reason the engine reports with each failure (what a 502 message carries). */
const REASON: Record<Failure, string> = {
  'connect-refused': 'ECONNREFUSED',
  'connect-timeout': 'connect timeout',
  'closed-before-send': 'connection closed',
  'reset-after-send': 'ECONNRESET',
  'closed-after-send': 'node closed the connection',
  'node-down-before-send': 'node taken out while waiting',
  'node-down-after-send': 'node taken out while waiting',
  'node-silent-after-send': 'node taken out while waiting',
  'response-timeout': 'response timeout',
  'bad-response': 'response head from node too large',
  'not-executed': 'node did not run it (503)',
};

/** The request of a case: its method's idempotency and whether its whole body was kept. */
interface RequestKind {
  readonly name: string;
  readonly idempotent: boolean;
  readonly bodyKept: boolean;
}

const GET: RequestKind = { name: 'GET (body kept)', idempotent: true, bodyKept: true };
const PUT: RequestKind = { name: 'PUT (body kept)', idempotent: true, bodyKept: true };
const POST: RequestKind = { name: 'POST (body kept)', idempotent: false, bodyKept: true };
const PATCH: RequestKind = { name: 'PATCH (body kept)', idempotent: false, bodyKept: true };
const BIG_PUT: RequestKind = { name: 'PUT with a body too big to keep', idempotent: true, bodyKept: false };
const BIG_POST: RequestKind = { name: 'POST with a body too big to keep', idempotent: false, bodyKept: false };

/** First column of the table. */
const KEPT_IDEMPOTENT = [GET, PUT];
/** Second column of the table. */
const NOT_REPLAYABLE = [POST, PATCH, BIG_PUT, BIG_POST];

type Facts = Omit<AttemptOutcome, 'failure' | 'reason' | 'idempotent' | 'bodyKept'>;

const BASE: Facts = {
  reusedConn: false,
  retryOnReset: false,
  timedOutBefore: false,
  responseBytes: false,
  responseStarted: false,
};

function outcome(failure: Failure, req: RequestKind, facts: Partial<Facts> = {}): AttemptOutcome {
  return { failure, reason: REASON[failure], idempotent: req.idempotent, bodyKept: req.bodyKept, ...BASE, ...facts };
}

const sameNodeFresh: RetryDecision = { kind: 'same-node-fresh', markNodeDown: false };
const nextNode = (markNodeDown: boolean): RetryDecision => ({ kind: 'next-node', markNodeDown });
const badGateway = (reason: string, markNodeDown: boolean): RetryDecision => ({
  kind: 'fail',
  status: 502,
  message: `bad gateway: ${reason}`,
  markNodeDown,
});
const gatewayTimeout: RetryDecision = { kind: 'fail', status: 504, message: TIMEOUT, markNodeDown: false };
const wait: RetryDecision = { kind: 'wait', markNodeDown: false };
const cutClient: RetryDecision = { kind: 'cut-client', markNodeDown: false };
const passThrough: RetryDecision = { kind: 'pass-through', markNodeDown: false };

interface Case {
  readonly name: string;
  readonly outcome: AttemptOutcome;
  readonly expect: RetryDecision;
}

const conn = (reused: boolean) => (reused ? 'reused keep-alive connection' : 'new connection');
const onOff = (on: boolean) => (on ? '--retry-on-reset on' : '--retry-on-reset off');

/** Every combination of the listed requests, connection kinds and --retry-on-reset. */
function cases(
  failure: Failure,
  reqs: readonly RequestKind[],
  expect: (reused: boolean, retryOnReset: boolean) => RetryDecision,
  facts: Partial<Facts> = {},
  note = '',
): Case[] {
  const out: Case[] = [];
  for (const req of reqs) {
    for (const reused of [true, false]) {
      for (const retryOnReset of [false, true]) {
        out.push({
          name: `${req.name}, ${failure}, ${conn(reused)}, ${onOff(retryOnReset)}${note}`,
          outcome: outcome(failure, req, { ...facts, reusedConn: reused, retryOnReset }),
          expect: expect(reused, retryOnReset),
        });
      }
    }
  }
  return out;
}

/**
 * The README's table: its "what happened" cells word for word, each with the cases that pin it down.
 * `outside`: the row is not a failed attempt, the policy is never asked (covered by a black-box test).
 */
const TABLE: ReadonlyArray<{ row: string; cases: Case[]; outside?: string }> = [
  {
    row: 'connection refused / connect timeout / closed before anything was sent',
    // next node in both columns; nothing reached the node, so it is down for everyone.
    cases: [
      ...cases('connect-refused', [...KEPT_IDEMPOTENT, ...NOT_REPLAYABLE], () => nextNode(true)),
      ...cases('connect-timeout', [...KEPT_IDEMPOTENT, ...NOT_REPLAYABLE], () => nextNode(true)),
      ...cases('closed-before-send', [...KEPT_IDEMPOTENT, ...NOT_REPLAYABLE], () => nextNode(true)),
      // A timeout earlier in the exchange changes nothing for a request no node has seen.
      ...cases('connect-timeout', [GET, POST], () => nextNode(true), { timedOutBefore: true }, ', after a response timeout'),
    ],
  },
  {
    row: 'reset (RST) after the request was sent, no response byte yet',
    cases: [
      // GET column: same node on a fresh connection if reused, else next node and the node marked down.
      ...cases('reset-after-send', KEPT_IDEMPOTENT, (reused) => (reused ? sameNodeFresh : nextNode(true))),
      // POST column: 502, never re-sent (node marked down if the connection was new); with --retry-on-reset
      // on, as for GET.
      ...cases('reset-after-send', [POST, PATCH], (reused, retryOnReset) =>
        retryOnReset ? (reused ? sameNodeFresh : nextNode(true)) : badGateway('ECONNRESET', !reused),
      ),
      // A body too big to keep is gone: 502 even with --retry-on-reset on (nothing left to send again).
      ...cases('reset-after-send', [BIG_PUT, BIG_POST], (reused) => badGateway('ECONNRESET', !reused)),
      // EPIPE is a reset too: the engine reports it as 'reset-after-send' with that reason.
      {
        name: `${POST.name}, reset-after-send (EPIPE), new connection, --retry-on-reset off`,
        outcome: { ...outcome('reset-after-send', POST), reason: 'EPIPE' },
        expect: badGateway('EPIPE', true),
      },
    ],
  },
  {
    row: 'closed (FIN) after the request was sent, no response byte yet',
    cases: [
      // GET column: as for a reset.
      ...cases('closed-after-send', KEPT_IDEMPOTENT, (reused) => (reused ? sameNodeFresh : nextNode(true))),
      // POST column: 502, never re-sent, --retry-on-reset or not (node marked down if the connection was new).
      ...cases('closed-after-send', NOT_REPLAYABLE, (reused) => badGateway('node closed the connection', !reused)),
    ],
  },
  {
    row: "the node is taken out (health checks, or another request's failure) while the request waits on it, no response byte yet",
    cases: [
      // GET column: next node at once if the node went silent (the node is already down: no second mark)...
      ...cases('node-silent-after-send', KEPT_IDEMPOTENT, () => nextNode(false)),
      // ...waits for the answer of a node that still answers (it may be running the request).
      ...cases('node-down-after-send', KEPT_IDEMPOTENT, () => wait, {}, ', node still answering'),
      // POST column: waits for the node's answer or --response-timeout (it may be running there).
      ...cases('node-silent-after-send', NOT_REPLAYABLE, () => wait),
      ...cases('node-down-after-send', NOT_REPLAYABLE, () => wait, {}, ', node still answering'),
      // ...moved at once if it was not sent yet (both columns).
      ...cases('node-down-before-send', [...KEPT_IDEMPOTENT, ...NOT_REPLAYABLE], () => nextNode(false), {}, ', not sent yet'),
    ],
  },
  {
    row: 'no response within `--response-timeout`',
    cases: [
      // GET column: next node, once (even from a reused connection: a slow node is not the keep-alive race);
      // the node stays up.
      ...cases('response-timeout', KEPT_IDEMPOTENT, () => nextNode(false), {}, ', first timeout'),
      // ...a second timeout is a 504.
      ...cases('response-timeout', KEPT_IDEMPOTENT, () => gatewayTimeout, { timedOutBefore: true }, ', second timeout'),
      // POST column: 504, never re-sent.
      ...cases('response-timeout', NOT_REPLAYABLE, () => gatewayTimeout, {}, ', first timeout'),
      ...cases('response-timeout', NOT_REPLAYABLE, () => gatewayTimeout, { timedOutBefore: true }, ', second timeout'),
    ],
  },
  {
    row: 'part of a response received',
    cases: [
      // Both columns: the client connection is cut (it sees a truncated response), whatever broke.
      ...ALL_FAILURES.filter((f) => !f.startsWith('node-') && !nothingReachedNode(f)).flatMap((f) =>
        cases(f, [GET, POST, BIG_POST], () => cutClient, { responseBytes: true, responseStarted: true }, ', response started'),
      ),
      // The node being taken out does not stop a response that is coming: it goes on.
      ...cases('node-down-after-send', [GET, POST], () => wait, { responseBytes: true, responseStarted: true }, ', response started'),
      ...cases('node-silent-after-send', [GET, POST], () => wait, { responseBytes: true, responseStarted: true }, ', response started'),
      // Bytes of a response head that never completed: nothing reached the client yet, so it gets a 502 (the
      // table's "cut" is for a response that reached the client), never a retry. A timeout then is a 502 too, not a 504.
      ...['reset-after-send', 'closed-after-send', 'response-timeout', 'bad-response'].flatMap((f) =>
        cases(f as Failure, [GET, POST], () => badGateway(REASON[f as Failure], false), { responseBytes: true }, ', head incomplete'),
      ),
      ...cases(
        'response-timeout',
        [GET],
        () => badGateway('response timeout', false),
        { responseBytes: true, timedOutBefore: true },
        ', head incomplete, second timeout',
      ),
      ...cases('node-down-after-send', [GET, POST], () => wait, { responseBytes: true }, ', head incomplete'),
      ...cases('node-silent-after-send', [GET, POST], () => wait, { responseBytes: true }, ', head incomplete'),
    ],
  },
  {
    row: '503 or 429 with the not-executed marker (`--not-executed-header`)',
    cases: [
      // Both columns when the body was kept: next node, the node stays up (whatever the connection, the
      // option, or an earlier timeout). The head has come: response bytes, but nothing reached the client.
      ...cases('not-executed', [...KEPT_IDEMPOTENT, POST, PATCH], () => nextNode(false), { responseBytes: true }),
      ...cases(
        'not-executed',
        [GET, POST],
        () => nextNode(false),
        { responseBytes: true, timedOutBefore: true },
        ', after a response timeout',
      ),
      // A body too big to keep cannot go again: the node's answer is passed through.
      ...cases('not-executed', [BIG_PUT, BIG_POST], () => passThrough, { responseBytes: true }),
    ],
  },
  {
    row: 'any 4xx or 5xx from a node',
    cases: [],
    outside: 'a response is not a failed attempt: passed through (failover.test.ts, "4xx and 5xx answers ... not retried")',
  },
];

/** The "what happened" cells of the README's retry table, in order. */
function readmeRows(): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### When a request is retried, and when it is not');
  assert.notEqual(start, -1, 'README has no retry table');
  const lines = readme.slice(start).split('\n').slice(1);
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  const rows = table.slice(
    0,
    table.findIndex((l) => !l.startsWith('|')),
  );
  return rows.slice(2).map((l) => l.split('|')[1].trim());
}

describe('retry policy: the README table, row for row', () => {
  it('covers every row of the README table, in its words and order', () => {
    assert.deepEqual(
      TABLE.map((r) => r.row),
      readmeRows(),
    );
  });

  for (const { row, cases: rowCases, outside } of TABLE) {
    describe(row, () => {
      if (outside !== undefined) {
        it(`not the policy's: ${outside}`, () => {
          assert.equal(rowCases.length, 0);
        });
        return;
      }
      for (const c of rowCases) {
        it(c.name, () => {
          assert.deepEqual(decideRetry(Object.freeze(c.outcome)), c.expect);
        });
      }
    });
  }
});

describe('retry policy: the rules around the table', () => {
  it('a broken or unframeable response before any byte reached the client is a 502 with its reason, never retried', () => {
    for (const req of [GET, POST]) {
      for (const reused of [true, false]) {
        const reason = 'too many interim responses from node';
        const o = { ...outcome('bad-response', req, { reusedConn: reused, responseBytes: true }), reason };
        assert.deepEqual(decideRetry(o), badGateway(reason, false));
      }
    }
  });

  it('a node stalled mid-response (or a bad chunk) cuts the client', () => {
    const o = { ...outcome('bad-response', GET, { responseBytes: true, responseStarted: true }), reason: 'node stalled mid-response' };
    assert.deepEqual(decideRetry(o), cutClient);
  });

  it('a reset after a first response timeout is retried like any reset (the limit is on timeouts)', () => {
    assert.deepEqual(decideRetry(outcome('reset-after-send', GET, { timedOutBefore: true, reusedConn: true })), sameNodeFresh);
    assert.deepEqual(decideRetry(outcome('closed-after-send', GET, { timedOutBefore: true })), nextNode(true));
  });

  it('nothing left: 503 when every node of the ranking is down', () => {
    for (const timedOutBefore of [false, true]) {
      assert.deepEqual(decideNoNodeLeft({ anyNodeUp: false, timedOutBefore, lastFailure: 'ECONNREFUSED' }), {
        kind: 'fail',
        status: 503,
        message: NO_FALLBACK,
        markNodeDown: false,
      });
    }
  });

  it('nothing left but a node still up: 504 after a response timeout, else 502 with the last failure', () => {
    assert.deepEqual(decideNoNodeLeft({ anyNodeUp: true, timedOutBefore: true, lastFailure: 'ECONNRESET' }), gatewayTimeout);
    const afterReset = decideNoNodeLeft({ anyNodeUp: true, timedOutBefore: false, lastFailure: 'ECONNRESET' });
    assert.deepEqual(afterReset, badGateway('ECONNRESET', false));
    assert.deepEqual(decideNoNodeLeft({ anyNodeUp: true, timedOutBefore: false, lastFailure: '' }), badGateway('no node answered', false));
  });
});

/** Any outcome at all, including combinations the engine never produces. */
const anyOutcome: fc.Arbitrary<AttemptOutcome> = fc.record({
  failure: fc.constantFrom(...ALL_FAILURES),
  reason: fc.string({ maxLength: 20 }),
  idempotent: fc.boolean(),
  bodyKept: fc.boolean(),
  reusedConn: fc.boolean(),
  retryOnReset: fc.boolean(),
  timedOutBefore: fc.boolean(),
  responseBytes: fc.boolean(),
  responseStarted: fc.boolean(),
});

/** Outcomes the engine can produce: a started response had bytes; none come before the request is sent. */
const engineOutcome: fc.Arbitrary<AttemptOutcome> = anyOutcome.map((o) => {
  const none = nothingReachedNode(o.failure);
  const responseStarted = !none && o.responseStarted;
  const responseBytes = !none && (o.responseBytes || responseStarted || o.failure === 'bad-response');
  return { ...o, responseBytes, responseStarted };
});

const AFTER_SEND: ReadonlySet<Failure> = new Set(['reset-after-send', 'closed-after-send']);
const resends = (d: RetryDecision) => d.kind === 'same-node-fresh' || d.kind === 'next-node';

describe('retry policy: invariants', () => {
  it('a request that may have reached a node is sent again only if idempotent (or unread with --retry-on-reset) and its body kept', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        if (nothingReachedNode(o.failure)) return;
        const d = decideRetry(o);
        if (!resends(d)) return;
        assert.ok(o.bodyKept, 'body not kept');
        assert.ok(o.idempotent || (o.failure === 'reset-after-send' && o.retryOnReset), 'not safe to repeat');
        assert.ok(maySendAgain(o));
        assert.ok(!o.responseBytes && !o.responseStarted, 'a response byte had come');
      }),
      { numRuns: 2000 },
    );
  });

  it('nothing reached the node ⇒ next node, and the node is marked down unless health already took it out', () => {
    fc.assert(
      fc.property(engineOutcome, (o) => {
        if (!nothingReachedNode(o.failure)) return;
        assert.deepEqual(decideRetry(o), nextNode(o.failure !== 'node-down-before-send'));
      }),
      { numRuns: 1000 },
    );
  });

  it('response started ⇒ cut the client (unless the node was only taken out: its response goes on)', () => {
    fc.assert(
      fc.property(engineOutcome, (o) => {
        if (!o.responseStarted) return;
        assert.deepEqual(decideRetry(o), o.failure === 'node-down-after-send' || o.failure === 'node-silent-after-send' ? wait : cutClient);
      }),
      { numRuns: 1000 },
    );
  });

  it('the node is marked down exactly when nothing reached it, or a new connection dropped without a word (never on timeouts)', () => {
    fc.assert(
      fc.property(engineOutcome, (o) => {
        const d = decideRetry(o);
        const expected =
          !o.responseBytes &&
          (o.failure === 'connect-refused' ||
            o.failure === 'connect-timeout' ||
            o.failure === 'closed-before-send' ||
            (AFTER_SEND.has(o.failure) && !o.reusedConn));
        assert.equal(d.markNodeDown, expected);
        if (o.failure === 'response-timeout') assert.equal(d.markNodeDown, false);
      }),
      { numRuns: 2000 },
    );
  });

  it('same node on a fresh connection only after a reused connection dropped a sent request', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        if (decideRetry(o).kind !== 'same-node-fresh') return;
        assert.ok(o.reusedConn && AFTER_SEND.has(o.failure));
      }),
      { numRuns: 2000 },
    );
  });

  it('one retry after a response timeout at most', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        if (o.failure !== 'response-timeout' || !o.timedOutBefore) return;
        assert.ok(!resends(decideRetry(o)));
      }),
      { numRuns: 1000 },
    );
  });

  it('only a node taken out makes a request wait, and it never fails or cuts one', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        const d = decideRetry(o);
        const nodeDown = o.failure.startsWith('node-');
        if (nodeDown) assert.ok(d.kind === 'wait' || d.kind === 'next-node', d.kind);
        else assert.notEqual(d.kind, 'wait');
      }),
      { numRuns: 1000 },
    );
  });

  it('a written request is never moved off a node taken out while it still answers (it may be running there)', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        if (o.failure === 'node-down-after-send') assert.deepEqual(decideRetry(o), wait);
      }),
      { numRuns: 1000 },
    );
  });

  it('a failure answer is a 504 for a response timeout with no byte, else a 502 with the reason', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        const d = decideRetry(o);
        if (d.kind !== 'fail') return;
        if (o.failure === 'response-timeout' && !o.responseBytes) assert.deepEqual([d.status, d.message], [504, TIMEOUT]);
        else assert.deepEqual([d.status, d.message], [502, `bad gateway: ${o.reason}`]);
      }),
      { numRuns: 2000 },
    );
  });

  it('is a pure function of its input', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        const before = { ...o };
        const frozen = Object.freeze({ ...o });
        assert.deepEqual(decideRetry(frozen), decideRetry(before));
        assert.deepEqual(frozen, before);
      }),
      { numRuns: 500 },
    );
  });
});

describe('retry policy: Idempotency-Key', () => {
  const KEYED_POST: RequestKind = { name: 'POST with Idempotency-Key (body kept)', idempotent: false, bodyKept: true };
  const KEYED_BIG_POST: RequestKind = { name: 'POST with Idempotency-Key and a body too big to keep', idempotent: false, bodyKept: false };
  const keyed = (failure: Failure, req: RequestKind, facts: Partial<Facts> = {}) => ({
    ...outcome(failure, req, facts),
    idempotencyKey: true,
  });

  it('a POST with the key is re-sent after a reset, a FIN, a node taken out, a first response timeout, as a GET', () => {
    for (const reused of [true, false]) {
      for (const retryOnReset of [false, true]) {
        const facts = { reusedConn: reused, retryOnReset };
        for (const f of ['reset-after-send', 'closed-after-send', 'node-silent-after-send', 'response-timeout'] as Failure[]) {
          assert.deepEqual(decideRetry(keyed(f, KEYED_POST, facts)), decideRetry(outcome(f, GET, facts)), f);
        }
        assert.deepEqual(decideRetry(keyed('reset-after-send', KEYED_POST, facts)), reused ? sameNodeFresh : nextNode(true));
        assert.deepEqual(decideRetry(keyed('node-silent-after-send', KEYED_POST, facts)), nextNode(false));
        assert.deepEqual(decideRetry(keyed('node-down-after-send', KEYED_POST, facts)), wait);
        assert.deepEqual(decideRetry(keyed('response-timeout', KEYED_POST, { ...facts, timedOutBefore: true })), gatewayTimeout);
      }
    }
  });

  it('the key does not bring back a body that streamed through', () => {
    assert.deepEqual(decideRetry(keyed('reset-after-send', KEYED_BIG_POST)), badGateway('ECONNRESET', true));
    assert.deepEqual(decideRetry(keyed('node-silent-after-send', KEYED_BIG_POST)), wait);
    assert.deepEqual(decideRetry(keyed('response-timeout', KEYED_BIG_POST)), gatewayTimeout);
  });

  it('without the key, the same POST is not re-sent (the core rule)', () => {
    assert.deepEqual(decideRetry(outcome('reset-after-send', KEYED_POST)), badGateway('ECONNRESET', true));
    assert.equal(maySendAgain(outcome('closed-after-send', KEYED_POST)), false);
    assert.equal(maySendAgain(keyed('closed-after-send', KEYED_POST)), true);
  });

  it('a response that started is never re-sent, key or not', () => {
    assert.deepEqual(decideRetry(keyed('reset-after-send', KEYED_POST, { responseBytes: true, responseStarted: true })), cutClient);
    assert.deepEqual(
      decideRetry(keyed('closed-after-send', KEYED_POST, { responseBytes: true })),
      badGateway('node closed the connection', false),
    );
  });
});

describe('retry policy: no node left after refusals, or the retry budget spent', () => {
  const REFUSED_503 = 'service unavailable: no node could take the request (each one tried said it did not run it)';
  const REFUSED_429 = 'too many requests: no node could take the request (each one tried said it did not run it)';

  it('the last node refused it (not executed): its status with our message', () => {
    assert.deepEqual(decideNoNodeLeft({ anyNodeUp: true, timedOutBefore: false, lastFailure: 'x', refusedStatus: 503 }), {
      kind: 'fail',
      status: 503,
      message: REFUSED_503,
      markNodeDown: false,
    });
    // A refusal after an earlier timeout: the last node's word wins.
    assert.deepEqual(decideNoNodeLeft({ anyNodeUp: true, timedOutBefore: true, lastFailure: 'x', refusedStatus: 429 }), {
      kind: 'fail',
      status: 429,
      message: REFUSED_429,
      markNodeDown: false,
    });
    // Every node down is still the cluster's 503.
    assert.equal(decideNoNodeLeft({ anyNodeUp: false, timedOutBefore: false, lastFailure: '', refusedStatus: 429 }).message, NO_FALLBACK);
  });

  it('the budget spent: the same answer, its message saying so', () => {
    const spent = (s: Parameters<typeof decideNoNodeLeft>[0]) => decideNoNodeLeft({ ...s, budgetSpent: true });
    assert.deepEqual(spent({ anyNodeUp: true, timedOutBefore: false, lastFailure: 'ECONNRESET' }), {
      kind: 'fail',
      status: 502,
      message: 'bad gateway: ECONNRESET (retry budget spent)',
      markNodeDown: false,
    });
    assert.deepEqual(spent({ anyNodeUp: true, timedOutBefore: true, lastFailure: 'response timeout' }), {
      ...gatewayTimeout,
      message: `${TIMEOUT} (retry budget spent)`,
    });
    assert.equal(
      spent({ anyNodeUp: true, timedOutBefore: false, lastFailure: '', refusedStatus: 503 }).message,
      `${REFUSED_503} (retry budget spent)`,
    );
  });
});

/** Any outcome, with the facts of the rules added to the core's: the key and the not-executed answer. */
const anyExtendedOutcome: fc.Arbitrary<AttemptOutcome> = fc
  .tuple(anyOutcome, fc.boolean(), fc.boolean())
  .map(([o, idempotencyKey, notExecuted]) => ({
    ...o,
    idempotencyKey,
    ...(notExecuted ? { failure: 'not-executed' as const, responseBytes: true } : {}),
  }));

describe('retry policy: invariants with Idempotency-Key and not-executed answers', () => {
  it('a request that may have reached a node is sent again only if safe (idempotent, keyed, unread, not executed) and its body kept', () => {
    fc.assert(
      fc.property(anyExtendedOutcome, (o) => {
        if (nothingReachedNode(o.failure)) return;
        const d = decideRetry(o);
        if (!resends(d)) return;
        assert.ok(o.bodyKept, 'body not kept');
        const unread = o.failure === 'reset-after-send' && o.retryOnReset;
        assert.ok(o.idempotent || o.idempotencyKey === true || unread || o.failure === 'not-executed', 'not safe to repeat');
        assert.ok(maySendAgain(o));
      }),
      { numRuns: 2000 },
    );
  });

  it('the key makes any method decide as an idempotent one', () => {
    fc.assert(
      fc.property(anyOutcome, (o) => {
        assert.deepEqual(
          decideRetry({ ...o, idempotent: false, idempotencyKey: true }),
          decideRetry({ ...o, idempotent: true, idempotencyKey: false }),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('a not-executed answer: next node (node up) with the body kept, else passed through; never an error or a mark', () => {
    fc.assert(
      fc.property(anyExtendedOutcome, (o) => {
        if (o.failure !== 'not-executed') return;
        assert.deepEqual(decideRetry(o), o.bodyKept ? nextNode(false) : passThrough);
      }),
      { numRuns: 1000 },
    );
  });

  it('only a not-executed answer is passed through', () => {
    fc.assert(
      fc.property(anyExtendedOutcome, (o) => {
        if (decideRetry(o).kind === 'pass-through') assert.equal(o.failure, 'not-executed');
      }),
      { numRuns: 1000 },
    );
  });
});
