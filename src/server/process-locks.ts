/** ExclusiveLocks (ports.ts ST11) within one process: for a single node, whose only rival is itself. */
import type { ExclusiveLocks } from "./ports.ts";

export class ProcessLocks implements ExclusiveLocks {
  private readonly held = new Set<string>();

  async tryExclusive<T>(name: string, task: () => Promise<T>): Promise<{ value: T } | null> {
    if (this.held.has(name)) return null;
    this.held.add(name);
    try {
      return { value: await task() };
    } finally {
      this.held.delete(name);
    }
  }
}
