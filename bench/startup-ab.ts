/**
 * Start-up of several commands side by side, interleaved (two warm-ups each, not recorded): wall
 * clock from spawn to exit and the child's CPU (user + system), min and median. For before/after
 * runs of `sis --version` on a shared machine, where CPU time is steadier than the wall clock:
 *   bun bench/startup-ab.ts "/tmp/before/sis --version" "dist/sis --version" "$(which bun) -e 0"
 * REPS=N repetitions (21).
 */
const commands = process.argv.slice(2);
if (commands.length === 0) throw new Error('usage: bun bench/startup-ab.ts "CMD ARGS" ...');
const reps = Number(process.env.REPS ?? 21);
const wall = new Map<string, number[]>(commands.map((c) => [c, []]));
const cpu = new Map<string, number[]>(commands.map((c) => [c, []]));
for (let rep = -2; rep < reps; rep++) {
  for (const command of commands) {
    const t0 = performance.now();
    const r = Bun.spawnSync(command.split(" "), { stdout: "pipe", stderr: "pipe" });
    const ms = performance.now() - t0;
    if (r.exitCode !== 0) throw new Error(`${command} failed (${r.exitCode}): ${r.stderr.toString()}`);
    if (rep < 0) continue;
    wall.get(command)!.push(ms);
    const used = r.resourceUsage!.cpuTime;
    cpu.get(command)!.push(Number(used.user + used.system) / 1000);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const command of commands) {
  const w = wall.get(command)!;
  console.log(`${command}: wall min ${Math.min(...w).toFixed(1)} median ${median(w).toFixed(1)} ms; CPU median ${median(cpu.get(command)!).toFixed(1)} ms`);
}
