/** Hub: per-address connection counts, per-user upload slots, and NEW_IMAGE and IMAGE_DELETED fan-out from a real notifier. */
import { describe, expect, test } from "bun:test";
import { CONTROL, decodeServerMessage, FrameDecoder } from "../../src/protocol/index.ts";
import { Hub } from "../../src/server/hub.ts";
import type { ImageEvent } from "../../src/server/ports.ts";
import { MemoryNotifier } from "../../src/server/memory-notifier.ts";

const event: ImageEvent = {
  seq: 7,
  id: "0123456789abcdef0123456789abcdef",
  owner: "alice",
  name: "cat.png",
  size: 1234,
  contentType: "image/png",
  createdAt: 1_700_000_000_000,
};

function recorder() {
  const frames: Uint8Array[] = [];
  return { frames, push: (frame: Uint8Array) => void frames.push(frame) };
}

describe("Hub", () => {
  test("admit() accepts connections from an address up to its limit and refuses the next", () => {
    const hub = new Hub(new MemoryNotifier());
    expect([1, 2, 3].map(() => hub.admit("10.0.0.1", 2))).toEqual([true, true, false]);
    expect(hub.admit("10.0.0.2", 2)).toBe(true);
  });

  test("release() frees a slot for the same address", () => {
    const hub = new Hub(new MemoryNotifier());
    hub.admit("10.0.0.1", 1);
    expect(hub.admit("10.0.0.1", 1)).toBe(false);
    hub.release("10.0.0.1");
    expect(hub.admit("10.0.0.1", 1)).toBe(true);
  });

  test("releasing an address more often than it was admitted does not give it extra slots", () => {
    const hub = new Hub(new MemoryNotifier());
    hub.release("10.0.0.1");
    hub.release("10.0.0.1");
    expect(hub.admit("10.0.0.1", 1)).toBe(true);
    expect(hub.admit("10.0.0.1", 1)).toBe(false);
  });

  test("beginUpload() gives each user at most `limit` slots and endUpload() returns one", () => {
    const hub = new Hub(new MemoryNotifier());
    expect([1, 2, 3].map(() => hub.beginUpload("alice", 2))).toEqual([true, true, false]);
    expect(hub.beginUpload("bob", 2)).toBe(true);
    hub.endUpload("alice");
    expect(hub.beginUpload("alice", 2)).toBe(true);
    expect(hub.beginUpload("alice", 2)).toBe(false);
  });

  test("a published image reaches every subscriber as one NEW_IMAGE frame, the same bytes for all", () => {
    const notifier = new MemoryNotifier();
    const hub = new Hub(notifier);
    const a = recorder();
    const b = recorder();
    hub.subscribe(a);
    hub.subscribe(b);
    notifier.publish(event);
    expect(a.frames).toHaveLength(1);
    expect(b.frames).toHaveLength(1);
    expect(b.frames[0]).toBe(a.frames[0]!);
    const frames = new FrameDecoder().push(a.frames[0]!);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.kind).toBe(CONTROL);
    expect(decodeServerMessage(frames[0]!.payload)).toEqual({ type: "NEW_IMAGE", image: event } as never);
    expect(hub.notificationsSent).toBe(2);
  });

  test("an unsubscribed session gets nothing more", () => {
    const notifier = new MemoryNotifier();
    const hub = new Hub(notifier);
    const a = recorder();
    const b = recorder();
    hub.subscribe(a);
    hub.subscribe(b);
    hub.unsubscribeSession(a);
    notifier.publish(event);
    expect(a.frames).toHaveLength(0);
    expect(b.frames).toHaveLength(1);
    expect(hub.subscriberCount).toBe(1);
  });

  test("a deletion published on the notifier reaches every subscriber as one IMAGE_DELETED frame, the same bytes for all", () => {
    const notifier = new MemoryNotifier();
    const hub = new Hub(notifier);
    const a = recorder();
    const b = recorder();
    hub.subscribe(a);
    hub.subscribe(b);
    notifier.publishDeletion({ seq: event.seq, id: event.id, owner: event.owner, name: event.name });
    expect(a.frames).toHaveLength(1);
    expect(b.frames[0]).toBe(a.frames[0]!);
    const frames = new FrameDecoder().push(a.frames[0]!);
    expect(frames).toHaveLength(1);
    expect(decodeServerMessage(frames[0]!.payload)).toEqual({ type: "IMAGE_DELETED", image: { seq: 7, id: event.id, owner: "alice", name: "cat.png" } } as never);
    expect(hub.notificationsSent).toBe(2);
  });

  test("close() stops the fan-out from the notifier, of new images and of deletions", () => {
    const notifier = new MemoryNotifier();
    const hub = new Hub(notifier);
    const a = recorder();
    hub.subscribe(a);
    hub.close();
    notifier.publish(event);
    notifier.publishDeletion(event);
    expect(a.frames).toHaveLength(0);
    expect(notifier.size).toBe(0);
  });
});
