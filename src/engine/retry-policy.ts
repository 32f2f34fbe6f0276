import { NoFallbackNodeError } from '../errors.js';

/**
 * The retry policy: what to do when an attempt to get a request answered by a node fails. Pure (no
 * sockets, no timers, no state): the Exchange records the facts, asks here, and carries the decision
 * out. Kept apart so the rules can be read, tested row by row against the README's table, and extended
 * in one place.
 */

/** What went wrong with the attempt (or happened to its node). */
export type Failure =
  /** The connection could not be opened (refused, unreachable): nothing reached the node. */
  | 'connect-refused'
  /** The connection was not open within --connect-timeout: nothing reached the node. */
  | 'connect-timeout'
  /** Closed or reset before the request was written: nothing reached the node. */
  | 'closed-before-send'
  /** The node reset the connection (RST) after the request was written. */
  | 'reset-after-send'
  /** The node closed the connection (FIN, or a close that was not a reset) after the request was written. */
  | 'closed-after-send'
  /** The node was taken out (health checks, another request's failure) while we were still connecting. */
  | 'node-down-before-send'
  /**
   * The node was taken out while the written request waits on it, but it still answers (it refused or
   * reset connections, or answered its checks with an error status): its answer to this request may
   * still come, and a node shutting down gracefully finishes what it has.
   */
  | 'node-down-after-send'
  /**
   * The node was taken out for silence (a check or a connect timed out, its host unreachable) while the
   * written request waits on it: a frozen or black-holed node does not answer it either.
   */
  | 'node-silent-after-send'
  /** No complete response head within --response-timeout. */
  | 'response-timeout'
  /** The node's response cannot be framed or finished (bad head, bad chunk, stalled mid-response). */
  | 'bad-response'
  /**
   * The node's final response head is a 503 or 429 with the --not-executed-header marker: it says it
   * never ran the request. The node is alive, only refusing. (The head is not forwarded yet.)
   */
  | 'not-executed';

/** Everything the policy looks at: the failure and the facts the Exchange recorded about the request. */
export interface AttemptOutcome {
  readonly failure: Failure;
  /** Why, as the 502 message says it (the socket error, 'node closed the connection', a framing error). */
  readonly reason: string;
  /** The method may run twice with the effect of once (GET, HEAD, OPTIONS, PUT, DELETE, TRACE). */
  readonly idempotent: boolean;
  /** The whole request body is still held (complete and within --max-replay-body): it can be sent again. */
  readonly bodyKept: boolean;
  /** The failed connection had carried a request before (taken from the keep-alive pool). */
  readonly reusedConn: boolean;
  /** --retry-on-reset: a reset before any response byte means the node never read all of the request. */
  readonly retryOnReset: boolean;
  /** An earlier attempt of this request already hit --response-timeout. */
  readonly timedOutBefore: boolean;
  /** At least one response byte came from the node on this attempt. */
  readonly responseBytes: boolean;
  /** The response head went to the client: too late for an error response of our own. */
  readonly responseStarted: boolean;
  /**
   * The request carries an Idempotency-Key header: the client says a second copy has the effect of one,
   * so it may be sent again as an idempotent method would. Absent = false.
   */
  readonly idempotencyKey?: boolean;
}

/** 502 and 504: a node failed us. 503: no node left at all. 503 and 429: every node tried refused it (not executed). */
export type FailStatus = 429 | 502 | 503 | 504;

/**
 * What the Exchange does next. `markNodeDown`: the node is taken out for every request now (and its
 * idle connections closed) until health checks bring it back.
 */
export type RetryDecision =
  /** Same node on a new connection: the failure was likely the keep-alive race, not the node. */
  | { readonly kind: 'same-node-fresh'; readonly markNodeDown: boolean }
  /** The next node of the ranking that is up (or the no-node-left answer, see decideNoNodeLeft). */
  | { readonly kind: 'next-node'; readonly markNodeDown: boolean }
  /** Answer the client with an error of our own. */
  | { readonly kind: 'fail'; readonly status: FailStatus; readonly message: string; readonly markNodeDown: boolean }
  /** Keep waiting on this node: the request may be running there. */
  | { readonly kind: 'wait'; readonly markNodeDown: boolean }
  /** The response had started: cut the client connection so it sees the response is incomplete. */
  | { readonly kind: 'cut-client'; readonly markNodeDown: boolean }
  /** The node's response goes to the client as it is (a "not executed" answer that cannot be re-sent). */
  | { readonly kind: 'pass-through'; readonly markNodeDown: boolean };

export type FailDecision = Extract<RetryDecision, { kind: 'fail' }>;

const TIMEOUT_MESSAGE = 'gateway timeout: node did not answer in time';

const badGateway = (reason: string, markNodeDown: boolean): FailDecision => ({
  kind: 'fail',
  status: 502,
  message: `bad gateway: ${reason}`,
  markNodeDown,
});
const gatewayTimeout = (): FailDecision => ({ kind: 'fail', status: 504, message: TIMEOUT_MESSAGE, markNodeDown: false });
const nextNode = (markNodeDown: boolean): RetryDecision => ({ kind: 'next-node', markNodeDown });
const WAIT: RetryDecision = { kind: 'wait', markNodeDown: false };
const CUT_CLIENT: RetryDecision = { kind: 'cut-client', markNodeDown: false };
const SAME_NODE_FRESH: RetryDecision = { kind: 'same-node-fresh', markNodeDown: false };
const PASS_THROUGH: RetryDecision = { kind: 'pass-through', markNodeDown: false };

/** Failures after which the node cannot have seen a byte of the request. */
export function nothingReachedNode(failure: Failure): boolean {
  return (
    failure === 'connect-refused' ||
    failure === 'connect-timeout' ||
    failure === 'closed-before-send' ||
    failure === 'node-down-before-send'
  );
}

/**
 * The node reset the connection before any response byte: its kernel discarded bytes its process never
 * read, so (with small requests) it cannot have run it. Trusted only with --retry-on-reset (see README).
 */
function unreadByNode(o: AttemptOutcome): boolean {
  return o.failure === 'reset-after-send' && o.retryOnReset;
}

/**
 * May a request that may have reached a node (and got no response byte) be sent again? Only if running
 * it twice is harmless (an idempotent method, or an Idempotency-Key from the client), or the node cannot
 * have run it (an unread reset with --retry-on-reset, the node's own "not executed" marker), and its
 * whole body is still here to send. Every future reason to allow or refuse such a replay belongs here,
 * with the fact it needs added to AttemptOutcome.
 */
export function maySendAgain(o: AttemptOutcome): boolean {
  return (o.idempotent || o.idempotencyKey === true || unreadByNode(o) || o.failure === 'not-executed') && o.bodyKept;
}

/**
 * The decision for one failed attempt (or node taken out under a waiting request). The README's retry
 * table, row for row (test/unit/retry-policy.test.ts checks it). The retry budget is not a rule of its
 * own here: the Exchange asks it before carrying out a 'same-node-fresh' or 'next-node' answer for a
 * request that may have reached a node, and answers as decideNoNodeLeft says when it is spent.
 */
export function decideRetry(o: AttemptOutcome): RetryDecision {
  const failure = o.failure;
  if (failure === 'not-executed') {
    // The node answered that it did not run the request: the next node may, whatever the method. The
    // node stays up (it answers; health checks decide). A body that streamed through cannot go again:
    // the node's own answer then goes to the client.
    return maySendAgain(o) ? nextNode(false) : PASS_THROUGH;
  }
  if (failure === 'node-down-before-send' || failure === 'node-down-after-send' || failure === 'node-silent-after-send') {
    // The node is already out. Once it answers, its response is ours. A request it may be running moves
    // only if the node went silent (a black-holed or frozen node would otherwise hold it for
    // --response-timeout) and it may go again; others wait for the node's answer, which a node that
    // still answers will give (moving it would run it twice).
    if (o.responseBytes || o.responseStarted) return WAIT;
    if (failure === 'node-down-before-send') return nextNode(false);
    return failure === 'node-silent-after-send' && maySendAgain(o) ? nextNode(false) : WAIT;
  }
  if (o.responseStarted) return CUT_CLIENT;
  // A partial or broken response head: the node took the request; no retry, but no bytes reached the client.
  if (o.responseBytes || failure === 'bad-response') return badGateway(o.reason, false);
  // Nothing reached the node: always safe to go on, and the node is down for everyone.
  if (nothingReachedNode(failure)) return nextNode(true);
  if (failure === 'response-timeout') {
    // One retry after a response timeout at most: a slow function should not run on every node. A slow
    // node is not a dead one: it stays up.
    return !o.timedOutBefore && maySendAgain(o) ? nextNode(false) : gatewayTimeout();
  }
  // Reset or FIN after the request was written, no response byte. A node that takes a new connection and
  // drops it without a word is dying (or crashed on this request): out now, as for a refused connection.
  const markNodeDown = !o.reusedConn;
  if (!maySendAgain(o)) return badGateway(o.reason, markNodeDown);
  // On a reused connection it is likely the keep-alive race (the node closed an idle connection as we
  // reused it): the same node on a new connection.
  return o.reusedConn ? SAME_NODE_FRESH : nextNode(markNodeDown);
}

/** What the Exchange knows when its ranking has no node left to try (or the retry budget is spent). */
export interface NoNodeLeft {
  /** Some node of the ranking is still up (it failed this request, or timed out). */
  readonly anyNodeUp: boolean;
  /** An attempt hit --response-timeout. */
  readonly timedOutBefore: boolean;
  /** The last attempt's failure reason, '' if none. */
  readonly lastFailure: string;
  /** The last attempt was answered 503 or 429 with the "not executed" marker: its status; absent or 0 otherwise. */
  readonly refusedStatus?: number;
  /** A retry the policy allowed was refused by the retry budget. Absent = false. */
  readonly budgetSpent?: boolean;
}

/** What the last node said, when it refused the request without running it. */
const REFUSED: Record<number, string> = {
  429: 'too many requests: no node could take the request (each one tried said it did not run it)',
  503: 'service unavailable: no node could take the request (each one tried said it did not run it)',
};

/**
 * The answer when no node is left: 503 when the whole ranking is down; the last node's 503 or 429 (our
 * message) when it refused the request without running it; else the last node's failure (504 after a
 * response timeout, 502). When the retry budget refused the retry, the message says so.
 */
export function decideNoNodeLeft(s: NoNodeLeft): FailDecision {
  const answer = noNodeLeftAnswer(s);
  return s.budgetSpent === true ? { ...answer, message: `${answer.message} (retry budget spent)` } : answer;
}

function noNodeLeftAnswer(s: NoNodeLeft): FailDecision {
  if (!s.anyNodeUp) return { kind: 'fail', status: 503, message: new NoFallbackNodeError().message, markNodeDown: false };
  const refused = s.refusedStatus ?? 0;
  if (refused === 429 || refused === 503) {
    return { kind: 'fail', status: refused, message: REFUSED[refused], markNodeDown: false };
  }
  if (s.timedOutBefore) return gatewayTimeout();
  return badGateway(s.lastFailure || 'no node answered', false);
}
