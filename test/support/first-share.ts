/** The first share on a fresh server: alice and bob registered, bob's watch gets alice's post of SAMPLE.png, verified and byte-identical. */
import { expect } from "bun:test";
import { join } from "node:path";
import { register, sis, startWatch, type ServerProcess } from "./cli.ts";
import { SAMPLE, sameFiles } from "./share.ts";

/** Registers alice and bob under `root`, posts SAMPLE.png as `name`, and returns bob's output folder once it holds the verified copy. */
export async function firstShare(server: ServerProcess, root: string, name: string): Promise<string> {
  for (const u of ["alice", "bob"]) {
    const r = await register(server, u, join(root, u));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
  }
  const out = join(root, "out");
  {
    await using w = startWatch(join(root, "bob"), out);
    await w.waitFor(/ connected to .* as bob; catching up after #\d+$/);
    const posted = await sis(["post", "--home", join(root, "alice"), "--name", name, SAMPLE.png]);
    expect({ code: posted.code, stderr: posted.stderr }).toEqual({ code: 0, stderr: "" });
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await w.waitFor(new RegExp(` saved alice/${escaped} \\(#1\\): signature by alice \\(serial [0-9a-f]+\\) verified -> `));
  }
  expect(await sameFiles(SAMPLE.png, join(out, "alice", name))).toBe(true);
  return out;
}
