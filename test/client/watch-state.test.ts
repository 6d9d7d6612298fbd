/** Watch state: where a watcher resumes, per server, surviving restarts and damage without repeats or gaps. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Home } from "../../src/client/home.ts";
import { loadWatchState, recordRefusal, REFUSED_KEPT, saveWatchState, wasRefused } from "../../src/client/watch-state.ts";
import { tempDir } from "../support/cli.ts";

const SERVER = "127.0.0.1:1233";

describe("watch state", () => {
  test("loadWatchState() starts from zero when nothing was saved", async () => {
    using dir = tempDir("sis-home-");
    expect(await loadWatchState(new Home(dir), SERVER)).toEqual({ server: SERVER, lastSeq: 0 });
  });

  test("saveWatchState() then loadWatchState() gives back the same position, also in a new Home", async () => {
    using dir = tempDir("sis-home-");
    await saveWatchState(new Home(dir), { server: SERVER, lastSeq: 42 });
    expect(await loadWatchState(new Home(dir), SERVER)).toEqual({ server: SERVER, lastSeq: 42 });
    await saveWatchState(new Home(dir), { server: SERVER, lastSeq: 43 });
    expect(await loadWatchState(new Home(dir), SERVER)).toEqual({ server: SERVER, lastSeq: 43 });
  });

  test("a refused image is kept across a restart (never fetched again); the list is bounded and has no repeats", async () => {
    using dir = tempDir("sis-home-");
    const home = new Home(dir);
    const state = await loadWatchState(home, SERVER);
    for (let seq = 1; seq <= REFUSED_KEPT + 5; seq++) recordRefusal(state, { seq, id: `id-${seq}`, label: `alice/${seq}.png`, reason: "cannot save" });
    recordRefusal(state, { seq: REFUSED_KEPT + 5, id: `id-${REFUSED_KEPT + 5}`, label: "again", reason: "again" });
    state.lastSeq = REFUSED_KEPT + 5;
    await saveWatchState(home, state);
    const back = await loadWatchState(new Home(dir), SERVER);
    expect(back.lastSeq).toBe(REFUSED_KEPT + 5);
    expect(back.refused).toHaveLength(REFUSED_KEPT);
    expect(back.refused!.at(-1)).toEqual({ seq: REFUSED_KEPT + 5, id: `id-${REFUSED_KEPT + 5}`, label: "again", reason: "again" });
    expect([wasRefused(back, `id-${REFUSED_KEPT + 5}`), wasRefused(back, "id-6"), wasRefused(back, "id-5")]).toEqual([true, true, false]);
    expect(statSync(home.path("watchState")).mode & 0o777).toBe(0o600);
  });

  test("the state is written to watch-state.json in the home, with no temporary file left", async () => {
    using dir = tempDir("sis-home-");
    const home = new Home(dir);
    for (let seq = 1; seq <= 5; seq++) await saveWatchState(home, { server: SERVER, lastSeq: seq });
    expect(readdirSync(dir)).toEqual(["watch-state.json"]);
    expect(JSON.parse(readFileSync(home.path("watchState"), "utf8"))).toEqual({ server: SERVER, lastSeq: 5 });
  });

  test("a position saved for another server is not used: sequence numbers belong to one server", async () => {
    using dir = tempDir("sis-home-");
    const home = new Home(dir);
    await saveWatchState(home, { server: "10.0.0.9:1233", lastSeq: 99 });
    expect(await loadWatchState(home, SERVER)).toEqual({ server: SERVER, lastSeq: 0 });
  });

  test.each([
    ["not JSON", "{ lastSeq: 7"],
    ["empty", ""],
    ["a negative position", JSON.stringify({ server: SERVER, lastSeq: -1 })],
    ["a fractional position", JSON.stringify({ server: SERVER, lastSeq: 1.5 })],
    ["a position given as a string", JSON.stringify({ server: SERVER, lastSeq: "7" })],
    ["a position beyond safe integers", `{"server":"${SERVER}","lastSeq":9007199254740993}`],
    ["no position", JSON.stringify({ server: SERVER })],
    ["JSON null", "null"],
  ])("a damaged state file (%s) starts over from zero instead of failing", async (_label, text) => {
    using dir = tempDir("sis-home-");
    const home = new Home(dir);
    writeFileSync(home.path("watchState"), text);
    expect(await loadWatchState(home, SERVER)).toEqual({ server: SERVER, lastSeq: 0 });
  });
});
