/** The --rename rule: the n-th name of a file puts " (n)" before its extension; the first is the name itself. */
import { expect, test } from "bun:test";
import { renamed } from "../../src/client/post-batch.ts";

test.each([
  ["trip.jpg", 1, "trip.jpg"],
  ["trip.jpg", 2, "trip (2).jpg"],
  ["trip.jpg", 10, "trip (10).jpg"],
  ["archive.tar.png", 3, "archive.tar (3).png"],
  ["README", 2, "README (2)"],
  [".hidden", 2, ".hidden (2)"],
  ["photo.", 2, "photo (2)."],
])("renamed(%p, %i) is %p", (name, n, expected) => {
  expect(renamed(name, n)).toBe(expected);
});
