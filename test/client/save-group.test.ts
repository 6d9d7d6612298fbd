/** SaveGroup: a watch acknowledges grouped saves only after their folders' fsync, in order, and none if that fsync fails. */
import { describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createImageDigest } from "../../src/crypto/index.ts";
import { OutputFile } from "../../src/client/output-file.ts";
import { MAX_GROUP, SaveGroup } from "../../src/client/save-group.ts";
import { tempDir } from "../support/cli.ts";
import { SAMPLE } from "../support/share.ts";

const image = new Uint8Array(readFileSync(SAMPLE.png));
const signature = new TextEncoder().encode("a detached signature stands here");

function digestOf(bytes: Uint8Array): Uint8Array {
  const d = createImageDigest();
  d.update(bytes);
  return d.digest();
}

async function saveInto(out: string, owner: string, name: string, group: SaveGroup) {
  const file = await OutputFile.create(out, owner, name);
  await file.write(image);
  return file.commit(signature, digestOf(image), group);
}

describe("SaveGroup", () => {
  test("saves committed with the group leave their folders to it: nothing is acknowledged before flush(), then all in order, each folder synced once", async () => {
    using out = tempDir("sis-group-");
    const group = new SaveGroup();
    const said: string[] = [];
    for (const [owner, name] of [["alice", "a.png"], ["bob", "b.png"], ["alice", "c.png"]] as const) {
      const { written } = await saveInto(out, owner, name, group);
      expect(written).toBe(true);
      group.handled(() => said.push(`${owner}/${name}`));
    }
    expect(group.folders).toEqual(new Set([join(out, "alice"), join(out, "bob")]));
    expect(said).toEqual([]);
    await group.flush();
    expect(said).toEqual(["alice/a.png", "bob/b.png", "alice/c.png"]);
    expect(group.empty).toBe(true);
  });

  test("an image already there (a repeated delivery) leaves its folder to the group too: the first save's entry may never have been synced", async () => {
    using out = tempDir("sis-group-");
    const first = new SaveGroup();
    await saveInto(out, "alice", "a.png", first);
    // The first group is never flushed (the watch died before it could sync): the next delivery syncs the folder.
    const again = new SaveGroup();
    const { written } = await saveInto(out, "alice", "a.png", again);
    expect(written).toBe(false);
    expect(again.folders).toEqual(new Set([join(out, "alice")]));
  });

  test("a folder whose fsync fails acknowledges nothing (the watch's position stays before those images)", async () => {
    using out = tempDir("sis-group-");
    const group = new SaveGroup();
    const said: string[] = [];
    await saveInto(out, "alice", "a.png", group);
    group.handled(() => said.push("alice/a.png"));
    rmSync(join(out, "alice"), { recursive: true, force: true }); // opening it for the fsync now fails
    await expect(group.flush()).rejects.toThrow();
    expect(said).toEqual([]);
  });

  test(`is full after ${MAX_GROUP} images, so an acknowledgement waits a bounded number of saves`, () => {
    const group = new SaveGroup();
    for (let i = 0; i < MAX_GROUP - 1; i++) group.handled(() => {});
    expect(group.full).toBe(false);
    group.handled(() => {});
    expect(group.full).toBe(true);
  });
});
