/** Child side of a bench helper process: JSON lines out on stdout, JSON commands in on stdin. */

export function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

/** Each command line from the parent, parsed; ends when the parent closes stdin. */
export async function* commands(): AsyncGenerator<Record<string, unknown>> {
  for await (const line of console) {
    if (line.trim() === "") continue;
    yield JSON.parse(line) as Record<string, unknown>;
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await task(items[i]!, i);
    }
  });
  await Promise.all(lanes);
  return out;
}
