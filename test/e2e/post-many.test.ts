/** sis post with several files and folders: every file tried, one line each and a summary; a folder's images in name order, --recursive, --rename; --name for one file only. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sis, type Result } from "../support/cli.ts";
import { openSandbox, type Sandbox } from "../support/sandbox.ts";
import { SAMPLE } from "../support/share.ts";

let box: Sandbox;
let alice: string;

beforeAll(async () => {
  box = await openSandbox("sis-post-many-", ["alice"]);
  alice = box.home("alice");
}, 60_000);

afterAll(async () => {
  await box?.close();
});

const post = (args: string[]): Promise<Result> => sis(["post", "--home", alice, ...args]);

async function names(): Promise<string[]> {
  const r = await sis(["list", "--home", alice, "--json"]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  return (JSON.parse(r.stdout) as { name: string }[]).map((i) => i.name).sort();
}

const POSTED = (name: string, type: string) => `posted alice/${name} id [0-9a-f]{32} \\([^)]+, image/${type}\\)\\n`;

/** A folder of `files`: name → fixture to copy, or text to write. */
function folder(label: string, files: Record<string, string | { text: string }>): string {
  const dir = box.freshDir(label);
  for (const [name, source] of Object.entries(files)) {
    if (typeof source === "string") copyFileSync(source, join(dir, name));
    else writeFileSync(join(dir, name), source.text);
  }
  return dir;
}

describe("sis post FILE FILE FILE", () => {
  test("a bad file in the middle is reported and the files after it are still posted; exit 1", async () => {
    const dir = folder("mixed", { "a.jpg": SAMPLE.jpg, "bad.txt": { text: "not a picture\n" }, "c.gif": SAMPLE.gif });
    const files = ["a.jpg", "bad.txt", "c.gif"].map((f) => join(dir, f));
    const r = await post(["--quiet", ...files]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("a.jpg", "jpeg")}${POSTED("c.gif", "gif")}$`));
    expect(r.stderr).toBe(`sis: cannot post ${files[1]}: it is not a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image (judged by its content)\nsis: cannot post 1 of 3 files; 2 posted\n`);
    expect(await names()).toEqual(expect.arrayContaining(["a.jpg", "c.gif"]));
  });

  test("a refusal by the server (NAME_TAKEN) is that file's failure; the next file is posted", async () => {
    const one = folder("one", { "twin.png": SAMPLE.png });
    const two = folder("two", { "twin.png": SAMPLE.png, "after.webp": SAMPLE.webp });
    const r = await post([join(one, "twin.png"), join(two, "twin.png"), join(two, "after.webp")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("twin.png", "png")}${POSTED("after.webp", "webp")}$`));
    expect(r.stderr).toBe(`sis: cannot post ${join(two, "twin.png")}: you already have an image named "twin.png"; choose another --name (NAME_TAKEN)\nsis: cannot post 1 of 3 files; 2 posted\n`);
    expect(await names()).toEqual(expect.arrayContaining(["twin.png", "after.webp"]));
  });

  test("a PNG whose last CRC is wrong fails as not well-formed once its upload is under way; nothing of it is kept, the files around it are posted", async () => {
    // The chunk headers are sound, so the size comes from them and the upload starts; the stripper,
    // run as the image is sent, finds the CRC at the very end and the upload ends unfinished (P36).
    const dir = folder("crc", { "before.jpg": SAMPLE.jpg, "after.gif": SAMPLE.gif });
    const good = new Uint8Array(readFileSync(SAMPLE.png));
    const bad = good.slice();
    bad[bad.length - 1]! ^= 0xff;
    writeFileSync(join(dir, "crc.png"), bad);
    const files = ["before.jpg", "crc.png", "after.gif"].map((f) => join(dir, f));
    const refusal = `sis: cannot post ${files[1]}: it is not a well-formed PNG image (png: IEND chunk at offset ${bad.length - 12} has a bad crc), so its metadata cannot be removed; pass --keep-metadata to post it unchanged\n`;
    const r = await post(["--quiet", ...files]);
    expect(r.stderr).toBe(`${refusal}sis: cannot post 1 of 3 files; 2 posted\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("before.jpg", "jpeg")}${POSTED("after.gif", "gif")}$`));
    const alone = await post([files[1]!]);
    expect({ code: alone.code, stdout: alone.stdout, stderr: alone.stderr }).toEqual({ code: 1, stdout: "", stderr: refusal });
    const stored = await names();
    expect(stored).toEqual(expect.arrayContaining(["before.jpg", "after.gif"]));
    expect(stored).not.toContain("crc.png");
  });

  test("all posted: one line each and a summary, exit 0", async () => {
    const dir = folder("fine", { "p1.png": SAMPLE.png, "p2.jpg": SAMPLE.jpg });
    const r = await post([join(dir, "p1.png"), join(dir, "p2.jpg")]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("p1.png", "png")}${POSTED("p2.jpg", "jpeg")}posted 2 files\\n$`));
  });
});

describe("sis post FOLDER", () => {
  test("posts the images directly in it in name order, notes each non-image and sub-folder, and does not enter sub-folders", async () => {
    const dir = folder("album", { "b-second.png": SAMPLE.png, "a-first.jpg": SAMPLE.jpg, "notes.txt": { text: "shopping list\n" }, "c-third.gif": SAMPLE.gif });
    mkdirSync(join(dir, "nested"));
    copyFileSync(SAMPLE.webp, join(dir, "nested", "deep.webp"));
    const r = await post([dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("a-first.jpg", "jpeg")}${POSTED("b-second.png", "png")}${POSTED("c-third.gif", "gif")}posted 3 files; 2 skipped\\n$`));
    expect(r.stderr).toBe(
      `skipped ${join(dir, "nested")}: a folder (pass --recursive to enter sub-folders)\nskipped ${join(dir, "notes.txt")}: not a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image (judged by its content)\n`,
    );
    const listed = await names();
    expect(listed).toEqual(expect.arrayContaining(["a-first.jpg", "b-second.png", "c-third.gif"]));
    expect(listed).not.toContain("deep.webp");
  });

  test("a folder without images is an error that says so", async () => {
    const dir = folder("empty-album", { "readme.txt": { text: "no pictures here\n" } });
    const r = await post([dir]);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `sis: cannot post ${dir}: the folder holds no PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image directly in it (pass --recursive to enter sub-folders)\n`,
    });
  });
});

describe("sis post --recursive FOLDER", () => {
  /** trip/ with images, a note, and two sub-folders; one image name ("beach.jpg") appears twice. */
  function trip(label: string): string {
    const dir = folder(label, { "beach.jpg": SAMPLE.jpg, "notes.txt": { text: "day one\n" } });
    mkdirSync(join(dir, "day2", "evening"), { recursive: true });
    copyFileSync(SAMPLE.png, join(dir, "day2", "beach.jpg.png"));
    copyFileSync(SAMPLE.jpg, join(dir, "day2", "beach.jpg"));
    copyFileSync(SAMPLE.webp, join(dir, "day2", "evening", `${label}-sunset.webp`));
    writeFileSync(join(dir, "day2", "evening", "list.csv"), "a,b\n");
    return dir;
  }

  test("enters sub-folders depth first in name order, notes each non-image, and refuses the second image of the same name (NAME_TAKEN) by default", async () => {
    const dir = trip("trip");
    const r = await post(["--quiet", "--recursive", dir]);
    expect(r.code).toBe(1);
    // "beach.jpg" < "day2" < "notes.txt"; inside day2: "beach.jpg" < "beach.jpg.png" < "evening".
    expect(r.stdout).toMatch(new RegExp(`^${POSTED("beach.jpg", "jpeg")}${POSTED("beach.jpg.png", "png")}${POSTED("trip-sunset.webp", "webp")}$`));
    expect(r.stderr).toBe(
      `skipped ${join(dir, "day2", "evening", "list.csv")}: not a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image (judged by its content)\n` +
        `skipped ${join(dir, "notes.txt")}: not a PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image (judged by its content)\n` +
        `sis: cannot post ${join(dir, "day2", "beach.jpg")}: you already have an image named "beach.jpg"; choose another --name (NAME_TAKEN)\n` +
        `sis: cannot post 1 of 4 files; 3 posted; 2 skipped\n`,
    );
    expect(await names()).toEqual(expect.arrayContaining(["beach.jpg", "beach.jpg.png", "trip-sunset.webp"]));
  });

  test("--rename adds ' (2)', ' (3)' … before the extension until the server accepts: against the server and within the run", async () => {
    // "beach.jpg" is on the server from the test above; this run has two more of that name.
    const dir = trip("trip-again");
    const r = await post(["--recursive", "--rename", dir]);
    expect({ code: r.code, stderr: r.stderr.split("\n").filter((l) => l.startsWith("sis:")) }).toEqual({ code: 0, stderr: [] });
    expect(r.stdout).toContain(`posted alice/beach (2).jpg id `);
    expect(r.stdout).toContain(`posted alice/beach (3).jpg id `);
    expect(r.stdout).toContain(`posted alice/beach.jpg (2).png id `);
    expect(r.stdout).toContain(`  renamed: you already have an image named "beach.jpg"\n`);
    expect(r.stdout).toMatch(/posted 4 files; 2 skipped\n$/);
    expect(await names()).toEqual(expect.arrayContaining(["beach.jpg", "beach (2).jpg", "beach (3).jpg", "beach.jpg (2).png", "trip-again-sunset.webp"]));
  });

  test("a symbolic link to a folder is not followed (no loop), and a folder of no images anywhere is an error", async () => {
    const dir = folder("loop", { "only.txt": { text: "x\n" } });
    symlinkSync(dir, join(dir, "again"));
    const r = await post(["--recursive", dir]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `sis: cannot post ${dir}: the folder holds no PNG, JPEG, GIF, WebP, HEIC, HEIF or AVIF image in it or its sub-folders\n` });
  });
});

describe("--name", () => {
  test("with a folder or several files is a usage error, and nothing is posted", async () => {
    const dir = folder("named", { "n1.png": SAMPLE.png, "n2.png": SAMPLE.png });
    const before = await names();
    expect(await post(["--name", "x.png", dir])).toEqual({
      code: 2,
      stdout: "",
      stderr: "sis: cannot run post: --name works with one FILE only, not with a folder; see 'sis post --help'\n",
    });
    expect(await post(["--name", "x.png", join(dir, "n1.png"), join(dir, "n2.png")])).toEqual({
      code: 2,
      stdout: "",
      stderr: "sis: cannot run post: --name works with one FILE only; see 'sis post --help'\n",
    });
    expect(await names()).toEqual(before);
  });

  test("a bad --name is blamed on the name, not on the source file", async () => {
    const r = await post(["--name", "bad/name.png", SAMPLE.png]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `sis: cannot use --name "bad/name.png": an image name cannot contain /, \\, control, format, private-use or unassigned characters; choose another name\n`,
    });
  });
});

describe("a server that is gone", () => {
  test("the connection's error is reported once and the other files are not tried", async () => {
    const dir = folder("offline", { "o1.png": SAMPLE.png, "o2.png": SAMPLE.png, "o3.png": SAMPLE.png });
    await box.server.stop();
    const r = await post([join(dir, "o1.png"), join(dir, "o2.png"), join(dir, "o3.png")]);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `sis: cannot connect to 127.0.0.1:${box.server.port}: connection refused; is 'sis serve' running there?\nsis: cannot post 3 of 3 files (2 not tried: no connection to the server); 0 posted\n`,
    });
  });
});
