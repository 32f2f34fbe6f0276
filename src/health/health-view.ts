/** What the balancer needs to know about node health, wherever the probes run. */
export interface HealthView {
  isUp(index: number): boolean;
  /** Passive failure seen by traffic: down at once. */
  markDown(index: number, reason: string): void;
  start(): void;
  stop(): void;
}

export type HealthChangeListener = (index: number, up: boolean, reason: string) => void;
