/** rateLimited(): refusals a peer can cause at will reach the log at most once per message per interval, with a count of the dropped ones. */
import { expect, test } from "bun:test";
import { rateLimited } from "../../src/server/log-limiter.ts";
import { createLogger } from "../../src/server/logger.ts";

test("one line per message per interval; the next line says how many were suppressed; other messages pass", () => {
  const lines: string[] = [];
  let now = 1_000_000;
  const log = rateLimited(createLogger((t) => lines.push(t)), 10_000, () => now);
  for (let i = 0; i < 50; i++) log.warn("connection closed before HELLO", { address: "127.0.0.1" });
  log.warn("certificate refused at HELLO", { code: "CERT_UNKNOWN" });
  expect(lines.length).toBe(2);
  now += 10_000;
  log.warn("connection closed before HELLO", { address: "127.0.0.2" });
  expect(lines.length).toBe(3);
  expect(lines[2]).toMatch(/ warn connection closed before HELLO address="127\.0\.0\.2" suppressed=49\n$/);
  log.warn("connection closed before HELLO", { address: "127.0.0.3" });
  expect(lines.length).toBe(3);
});
