import { expect, test } from "bun:test";
import { Metrics } from "../../src/server/metrics.ts";

test("Metrics.render() writes every counter in Prometheus text format, refusals labelled by code", () => {
  const m = new Metrics();
  m.connections = 3;
  m.authenticatedConnections = 2;
  m.registrations = 5;
  m.loginsFailed = 1;
  m.imagesStored = 4;
  m.bytesStored = 1234;
  m.notificationsSent = 8;
  m.downloads = 6;
  m.downloadBytes = 9876;
  m.rangedDownloads = 2;
  m.imagesDeleted = 7;
  m.refuse("AUTH_FAILED");
  m.refuse("AUTH_FAILED");
  m.refuse("BAD_FRAME");
  const text = m.render();
  for (const [name, value] of [
    ["sis_connected_clients", 3],
    ["sis_authenticated_clients", 2],
    ["sis_registrations_total", 5],
    ["sis_logins_failed_total", 1],
    ["sis_images_stored_total", 4],
    ["sis_bytes_stored_total", 1234],
    ["sis_notifications_sent_total", 8],
    ["sis_downloads_total", 6],
    ["sis_download_bytes_total", 9876],
    ["sis_ranged_downloads_total", 2],
    ["sis_images_deleted_total", 7],
  ] as const) {
    expect(text).toContain(`# TYPE ${name} `);
    expect(text).toMatch(new RegExp(`^${name} ${value}$`, "m"));
  }
  expect(text).toMatch(/^sis_refusals_total\{code="AUTH_FAILED"\} 2$/m);
  expect(text).toMatch(/^sis_refusals_total\{code="BAD_FRAME"\} 1$/m);
  // Every sample line is "name{labels} value" or a comment: the exposition format.
  for (const line of text.trim().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-z_]+(\{code="[A-Z_]+"\})? \d+)$/);
});
