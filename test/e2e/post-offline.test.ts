/** sis post against a server that is gone: the first pass over the file runs beside the connection, and a failed connection still ends the post with its own error. */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { sis } from "../support/cli.ts";
import { openSandbox, sandboxHooks, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE, writeBigPng } from "../support/share.ts";

let box: Sandbox;

sandboxHooks(() => openSandbox("sis-post-offline-", ["alice"]), async (sb) => {
  box = sb;
  await box.server.stop();
});

const refused = (port: number) => `sis: cannot connect to 127.0.0.1:${port}: connection refused; is 'sis serve' running there?\n`;

test("sis post to a stopped server fails with the connection's error, for a small and a 30 MiB image", async () => {
  const big = join(box.root, "big.png");
  await writeBigPng(big, 30 * 1024 * 1024);
  for (const file of [SAMPLE.png, big]) {
    const r = await sis(["post", "--home", box.home("alice"), file]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: refused(box.server.port) });
  }
});

test("sis post of a missing file says so, whether or not the server is there", async () => {
  const missing = join(box.root, "missing.png");
  const r = await sis(["post", "--home", box.home("alice"), missing]);
  expect(r).toEqual({ code: 1, stdout: "", stderr: `sis: cannot post ${missing}: no such file\n` });
});
