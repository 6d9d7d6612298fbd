/**
 * npm run soak: the crash and delivery tests scaled up — kill -9 rounds during
 * concurrent uploads, then 1,000 posts to 20 watchers that are killed and
 * restarted along the way, with one server kill. Prints the figures; exits 1
 * on any broken guarantee. SIS_SEED replays a run; SIS_BIN picks the binary.
 */
import { runCrashRounds } from "../test/support/crash-round.ts";
import { tempDir, SIS } from "../test/support/cli.ts";
import { runDelivery } from "../test/support/delivery-run.ts";
import { seeded, seedFrom } from "../test/support/seeded.ts";

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const seed = seedFrom(process.env.SIS_SEED);
const log = (line: string) => console.log(`  ${line}`);
console.log(`sis soak: binary ${SIS}, seed ${seed} (replay with SIS_SEED=${seed})`);

console.log(`\ncrash: kill -9 during concurrent uploads`);
let crash;
{
  using work = tempDir("sis-soak-crash-");
  crash = await runCrashRounds({
    rng: seeded(seed), rounds: env("SIS_SOAK_ROUNDS", 10), uploads: 20, posters: 5, minSize: 1024, maxSize: 8 * 1024 * 1024, workDir: work, log,
  });
}

console.log(`\ndelivery: watchers and the server killed while images are posted`);
let delivery;
{
  using work = tempDir("sis-soak-delivery-");
  delivery = await runDelivery({
    rng: seeded(seed ^ 0x5eed), posts: env("SIS_SOAK_POSTS", 1000), watchers: env("SIS_SOAK_WATCHERS", 20), batch: 20, watcherKills: env("SIS_SOAK_KILLS", 40),
    minSize: 1024, maxSize: 64 * 1024, largeEvery: 25, largeSize: 2 * 1024 * 1024, workDir: work, finishDeadlineMs: 3_600_000, opensslSample: 3, log,
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(`
crash rounds        ${crash.rounds}
  uploads           ${crash.uploads} (${crash.acknowledged} acknowledged, ${crash.committedUnacknowledged} committed without acknowledgement)
  server kills      ${crash.kills} (kill -9), ${crash.swept} upload files swept at restarts
  listed at end     ${crash.listed}, each downloaded byte-identical and verified
  problems          ${crash.problems.length}
  wall time         ${seconds(crash.wallMs)}
delivery
  posts             ${delivery.posts}
  watchers          ${delivery.watchers}
  server restarts   ${delivery.serverRestarts} (kill -9)
  watcher kills     ${delivery.watcherKills} (kill -9), ${delivery.watcherStarts} watch processes in all
  deliveries        ${delivery.deliveries} of ${delivery.posts * delivery.watchers} (${delivery.savedLines} "saved", ${delivery.alreadySavedLines} "already saved")
  duplicates        ${delivery.duplicates}
  missing           ${delivery.missing}
  openssl verified  ${delivery.opensslVerified}
  rate waits        ${delivery.rateWaits} (sis post waited out the server's post rate and went on)
  problems          ${delivery.problems.length}
  wall time         ${seconds(delivery.wallMs)}`);

const problems = [...crash.problems, ...delivery.problems];
for (const p of problems.slice(0, 50)) console.log(`problem: ${p}`);
if (problems.length > 50) console.log(`… and ${problems.length - 50} more`);
console.log(problems.length === 0 ? "\nsoak: every guarantee held" : `\nsoak: ${problems.length} problems`);
process.exit(problems.length === 0 ? 0 : 1);
