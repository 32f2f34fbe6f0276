/** What happened to the cluster lately, for the dashboard and GET /v1/events: a bounded ring, numbered. */
export type ClusterEventKind =
  'node-up' | 'node-down' | 'node-added' | 'node-removed' | 'node-draining' | 'node-undrained' | 'weight' | 'fallback';

export interface ClusterEvent {
  readonly seq: number;
  /** ISO time. */
  readonly at: string;
  readonly kind: ClusterEventKind;
  readonly node: string;
  readonly detail: string;
}

export class EventLog {
  private readonly ring: ClusterEvent[] = [];
  private seq = 0;

  constructor(private readonly capacity = 200) {}

  add(kind: ClusterEventKind, node: string, detail: string, at = Date.now()): void {
    this.ring.push({ seq: ++this.seq, at: new Date(at).toISOString(), kind, node, detail });
    if (this.ring.length > this.capacity) this.ring.shift();
  }

  /** Events after `seq`, oldest first. */
  after(seq: number): ClusterEvent[] {
    return this.ring.filter((e) => e.seq > seq);
  }
}
