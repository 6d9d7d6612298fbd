/** The Notifier contract (ports.ts): one suite every notifier must pass. */
import { describe, expect, test } from "bun:test";
import type { DeletionEvent, ImageEvent, Notifier } from "../../src/server/ports.ts";

export const EVENT: ImageEvent = {
  seq: 1, id: "0".repeat(32), owner: "alice", name: "cat.png", size: 5, contentType: "image/png", createdAt: 1,
};

export const DELETION: DeletionEvent = { seq: 1, id: "0".repeat(32), owner: "alice", name: "cat.png" };

/** `make` gets a callback to report listener failures to, so a failing listener does not spam the log. */
export function runNotifierContract(name: string, make: (onError: (e: unknown) => void) => Notifier): void {
  describe(`${name} (Notifier contract)`, () => {
    test("publish() delivers the event to every subscriber", () => {
      const n = make(() => {});
      const got: ImageEvent[][] = [[], []];
      n.subscribe((e) => got[0]!.push(e));
      n.subscribe((e) => got[1]!.push(e));
      n.publish(EVENT);
      expect(got).toEqual([[EVENT], [EVENT]]);
    });

    test("publish() with no subscribers does nothing", () => {
      expect(() => make(() => {}).publish(EVENT)).not.toThrow();
    });

    test("an unsubscribed listener receives nothing, and unsubscribing twice is harmless", () => {
      const n = make(() => {});
      const got: ImageEvent[] = [];
      const off = n.subscribe((e) => got.push(e));
      n.publish(EVENT);
      off();
      off();
      n.publish({ ...EVENT, seq: 2 });
      expect(got.map((e) => e.seq)).toEqual([1]);
    });

    test("one function subscribed twice is delivered twice and unsubscribed one at a time", () => {
      const n = make(() => {});
      let count = 0;
      const listener = () => void count++;
      const off1 = n.subscribe(listener);
      n.subscribe(listener);
      n.publish(EVENT);
      off1();
      n.publish(EVENT);
      expect(count).toBe(3);
    });

    test("a listener that throws does not stop the others", () => {
      const errors: unknown[] = [];
      const n = make((e) => errors.push(e));
      const got: string[] = [];
      n.subscribe(() => got.push("first"));
      n.subscribe(() => {
        throw new Error("broken connection");
      });
      n.subscribe(() => got.push("third"));
      expect(() => n.publish(EVENT)).not.toThrow();
      expect(got).toEqual(["first", "third"]);
      expect(errors).toHaveLength(1);
    });

    test("a listener may unsubscribe another during delivery, which then is skipped", () => {
      const n = make(() => {});
      const got: string[] = [];
      let offSecond = () => {};
      n.subscribe(() => {
        got.push("first");
        offSecond();
      });
      offSecond = n.subscribe(() => got.push("second"));
      n.publish(EVENT);
      expect(got).toEqual(["first"]);
    });

    test("publishDeletion() delivers the deletion to every deletion subscriber, and not to image subscribers", () => {
      const n = make(() => {});
      const images: ImageEvent[] = [];
      const gone: DeletionEvent[][] = [[], []];
      n.subscribe((e) => images.push(e));
      n.subscribeDeletions((e) => gone[0]!.push(e));
      n.subscribeDeletions((e) => gone[1]!.push(e));
      n.publishDeletion(DELETION);
      n.publish(EVENT);
      expect(gone).toEqual([[DELETION], [DELETION]]);
      expect(images).toEqual([EVENT]);
    });

    test("an unsubscribed deletion listener receives nothing, and unsubscribing twice is harmless", () => {
      const n = make(() => {});
      const got: number[] = [];
      const off = n.subscribeDeletions((e) => got.push(e.seq));
      n.publishDeletion(DELETION);
      off();
      off();
      n.publishDeletion({ ...DELETION, seq: 2 });
      expect(got).toEqual([1]);
    });

    test("a deletion listener that throws does not stop the others", () => {
      const errors: unknown[] = [];
      const n = make((e) => errors.push(e));
      const got: string[] = [];
      n.subscribeDeletions(() => got.push("first"));
      n.subscribeDeletions(() => {
        throw new Error("broken connection");
      });
      n.subscribeDeletions(() => got.push("third"));
      expect(() => n.publishDeletion(DELETION)).not.toThrow();
      expect(got).toEqual(["first", "third"]);
      expect(errors).toHaveLength(1);
    });
  });
}
