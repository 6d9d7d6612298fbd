/**
 * A reference for the album: rsync over ssh on loopback, through a private sshd (its own port,
 * host key, authorized key and config in a temporary directory; the system's ssh configuration
 * is never read or changed). Null with the reason when sshd or rsync is not installed.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { clockMs } from "./measure.ts";

export interface RsyncPeer {
  /** Seconds for `rsync -a --fsync SRC/ → DEST/` over ssh (process start-up and the ssh handshake included). */
  copy(src: string, dest: string): Promise<number>;
  stop(): Promise<void>;
}

const SSHD_CANDIDATES = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"];

function which(cmd: string): string | null {
  const r = Bun.spawnSync(["sh", "-c", `command -v ${cmd}`], { stdout: "pipe", stderr: "ignore" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(args: string[]): void {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args[0]} failed (${r.exitCode}): ${r.stderr.toString().trim()}`);
}

/** Starts the private sshd; `unavailable` says why there is no peer. */
export async function startRsyncPeer(dir: string): Promise<RsyncPeer | { unavailable: string }> {
  const sshd = SSHD_CANDIDATES.find((p) => existsSync(p)) ?? which("sshd");
  if (!sshd) return { unavailable: "sshd is not installed (Debian: apt-get install openssh-server)" };
  if (!which("rsync") || !which("ssh")) return { unavailable: "rsync or ssh is not installed" };
  // sshd refuses to start without its privilege-separation directory; an empty one is all it needs.
  if (!existsSync("/run/sshd")) {
    try {
      mkdirSync("/run/sshd", { mode: 0o755 });
    } catch (error) {
      return { unavailable: `sshd needs /run/sshd, which cannot be made here: ${(error as Error).message}` };
    }
  }
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o700);
  const hostKey = join(dir, "host_ed25519");
  const userKey = join(dir, "user_ed25519");
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", userKey]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, await Bun.file(`${userKey}.pub`).text(), { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(config, [
    `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${hostKey}`, `AuthorizedKeysFile ${authorized}`, `PidFile ${join(dir, "sshd.pid")}`,
    "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
    "Subsystem sftp internal-sftp", "",
  ].join("\n"));
  const proc = Bun.spawn([sshd, "-D", "-e", "-f", config], { stdout: "ignore", stderr: "pipe" });
  let log = "";
  void (async () => {
    for await (const chunk of proc.stderr) log += new TextDecoder().decode(chunk);
  })();
  const ssh = `ssh -p ${port} -i ${userKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${join(dir, "known_hosts")} -o StrictHostKeyChecking=accept-new -o BatchMode=yes -F /dev/null`;
  const user = process.env.USER ?? (Bun.spawnSync(["id", "-un"]).stdout.toString().trim() || "root");
  const deadline = clockMs() + 10_000;
  for (;;) {
    const probe = Bun.spawnSync([...ssh.split(" "), `${user}@127.0.0.1`, "true"], { stdout: "ignore", stderr: "pipe" });
    if (probe.exitCode === 0) break;
    if (proc.exitCode !== null || clockMs() > deadline) {
      proc.kill();
      return { unavailable: `the private sshd did not accept a login: ${probe.stderr.toString().trim()} ${log.trim()}` };
    }
    await Bun.sleep(100);
  }
  return {
    async copy(src, dest) {
      const t0 = clockMs();
      const r = Bun.spawn(["rsync", "-a", "--fsync", "-e", ssh, `${src}/`, `${user}@127.0.0.1:${dest}/`], { stdout: "ignore", stderr: "pipe" });
      const [code, err] = await Promise.all([r.exited, new Response(r.stderr).text()]);
      if (code !== 0) throw new Error(`rsync failed (${code}): ${err.trim()}`);
      return (clockMs() - t0) / 1000;
    },
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}
