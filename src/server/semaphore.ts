/** A counting semaphore with a bounded wait queue: excess work is refused, not queued forever. */

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly permits: number,
    private readonly maxWaiting: number,
  ) {}

  /** Runs fn when a permit is free; returns null at once if the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T | null> {
    if (this.active >= this.permits) {
      if (this.waiting.length >= this.maxWaiting) return null;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
