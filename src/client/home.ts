/** The client's home: key (0600), certificate, pinned CA, server address, settings, watch state. */
import { readFileSync, statSync } from "node:fs";
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
// pem.ts alone: commands that do not verify certificates need not load the X.509 library.
import { fromPem } from "../pki/pem.ts";
import { DEFAULT_PORT } from "../protocol/limits.ts";
import { ClientError } from "./errors.ts";

export const HOME_FILES = {
  profile: "profile.json",
  key: "key.pem",
  cert: "cert.pem",
  ca: "ca.pem",
  watchState: "watch-state.json",
  settings: "settings.json",
  watchLive: "watch-live.json",
  thumbnails: "thumbnails",
  /** A renewal saved but not yet applied (RN5): key, certificate and profile in one file, 0600. */
  renewal: "renewal-pending.json",
  images: "images",
} as const;

/** What the home remembers between commands (settings.json): only what a command chose, never a secret. */
export interface Settings {
  /** The folder the last 'sis watch' saved into (absolute); 'sis gallery' shows it by default. */
  outputDir?: string;
}

export interface Profile {
  server: string;
  username: string;
  serial: string;
  notAfter: number;
  caFingerprint: string;
}

/** --home, else $SIS_HOME, else ~/.sis. */
export function resolveHome(flag: string | undefined, env = process.env): string {
  return flag ?? env.SIS_HOME ?? join(homedir(), ".sis");
}

export function parseServer(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(address);
  const port = m?.[2] ? Number(m[2]) : DEFAULT_PORT;
  if (!m || port < 1 || port > 65535) throw new ClientError(`cannot use server address ${JSON.stringify(address)}: write it as HOST:PORT, e.g. 127.0.0.1:${DEFAULT_PORT}`, 2);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Writes through a temporary file and a rename, so a crash never leaves half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export class Home {
  constructor(readonly dir: string) {}

  path(file: keyof typeof HOME_FILES): string {
    return join(this.dir, HOME_FILES[file]);
  }

  async ensure(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async readCaPem(): Promise<string | null> {
    return readFile(this.path("ca"), "utf8").catch(() => null);
  }

  readProfile(): Profile {
    const text = readIfThere(this.path("profile"));
    if (text === null) throw new ClientError(`cannot find a registration in ${this.dir}: run 'sis register --server HOST:PORT --user NAME' first (or pass --home)`);
    try {
      return JSON.parse(text) as Profile;
    } catch {
      throw new ClientError(`cannot read ${this.path("profile")}: it is damaged; register again`);
    }
  }

  /**
   * Everything a signed-in command needs: profile, key, certificate, pinned CA. The few small
   * files are read synchronously: on the thread pool each of the four reads in a row waited for a
   * turn of the event loop of a process just started (0.5 ms of a 10 MiB post's start;
   * bench/README.md, "Issue 17 on a fifth machine").
   */
  async credentials(opts: { warn?: boolean } = {}): Promise<Credentials> {
    // A renewal interrupted after it was saved is finished first (RN5).
    await this.applyPendingRenewal();
    const profile = this.readProfile();
    if (opts.warn !== false) Home.expiryNotice?.(profile);
    const keyPath = this.path("key");
    const mode = statIfThere(keyPath);
    if (mode === null) throw new ClientError(`cannot find your private key at ${keyPath}: register again`);
    if ((mode & 0o077) !== 0) throw new ClientError(`your private key ${keyPath} is readable by others: run 'chmod 600 ${keyPath}'`);
    const keyPem = readFileSync(keyPath, "utf8");
    const certPem = readFileSync(this.path("cert"), "utf8");
    const caPem = readFileSync(this.path("ca"), "utf8");
    return {
      profile,
      keyPem,
      certPem,
      caPem,
      keyPkcs8: fromPem(keyPem, "PRIVATE KEY"),
      certDer: fromPem(certPem, "CERTIFICATE"),
      caDer: fromPem(caPem, "CERTIFICATE"),
      homeDir: this.dir,
      ...parseServer(profile.server),
    };
  }

  /**
   * Whose registration this home holds: null when it holds none (no profile, no key);
   * otherwise the profile's user and certificate expiry (both null when a key is there
   * but the profile is missing or damaged).
   */
  async occupant(): Promise<{ username: string | null; notAfter: number | null } | null> {
    const [text, hasKey] = await Promise.all([
      readFile(this.path("profile"), "utf8").catch(() => null),
      stat(this.path("key")).then(() => true, () => false),
    ]);
    if (text === null) return hasKey ? { username: null, notAfter: null } : null;
    try {
      const p = JSON.parse(text) as Partial<Profile>;
      return { username: typeof p.username === "string" ? p.username : null, notAfter: typeof p.notAfter === "number" ? p.notAfter : null };
    } catch {
      return { username: null, notAfter: null };
    }
  }

  /** The default output folder: the one the last watch saved into, else HOME/images. */
  async outputDir(): Promise<string> {
    return (await this.readSettings()).outputDir ?? this.path("images");
  }

  /** A missing or damaged settings file is no settings (each has a default). */
  async readSettings(): Promise<Settings> {
    const text = await readFile(this.path("settings"), "utf8").catch(() => null);
    try {
      const raw = text === null ? null : (JSON.parse(text) as unknown);
      if (raw === null || typeof raw !== "object") return {};
      const { outputDir } = raw as Record<string, unknown>;
      return typeof outputDir === "string" && isAbsolute(outputDir) ? { outputDir } : {};
    } catch {
      return {};
    }
  }

  async updateSettings(change: Settings): Promise<void> {
    await this.ensure();
    const next = { ...(await this.readSettings()), ...change };
    await writeFileAtomic(this.path("settings"), JSON.stringify(next, null, 2) + "\n");
  }

  async pinCa(caPem: string): Promise<void> {
    await this.ensure();
    await writeFileAtomic(this.path("ca"), caPem);
  }

  /**
   * Installs a renewed key and certificate (RN5). The pending file, written atomically, is the
   * commit point: before it, the old key and certificate are untouched; after it, a crash at
   * any step is finished by the next credentials(). Key and certificate never mismatch.
   */
  async saveRenewal(p: { profile: Profile; keyPem: string; certPem: string }): Promise<void> {
    await writeFileAtomic(this.path("renewal"), JSON.stringify(p), 0o600);
    await this.applyPendingRenewal();
  }

  /** Finishes a saved renewal, if one is pending; idempotent. */
  async applyPendingRenewal(): Promise<void> {
    const text = readIfThere(this.path("renewal"));
    if (text === null) return;
    let pending: { profile: Profile; keyPem: string; certPem: string };
    try {
      pending = JSON.parse(text) as typeof pending;
    } catch {
      // Torn writes cannot happen (it is renamed into place); anything else is not ours to use.
      throw new ClientError(`cannot read ${this.path("renewal")}: it is damaged; move it away and run 'sis renew' again`);
    }
    await writeFileAtomic(this.path("key"), pending.keyPem, 0o600);
    await writeFileAtomic(this.path("cert"), pending.certPem);
    await writeFileAtomic(this.path("profile"), JSON.stringify(pending.profile, null, 2) + "\n");
    await unlink(this.path("renewal"));
  }

  /** Called with the profile whenever credentials are loaded (the CLI warns of a near expiry, RN6); none by default. */
  static expiryNotice: ((profile: Profile) => void) | null = null;

  async saveRegistration(p: { profile: Profile; keyPem: string; certPem: string }): Promise<void> {
    await this.ensure();
    await writeFileAtomic(this.path("key"), p.keyPem, 0o600);
    await writeFileAtomic(this.path("cert"), p.certPem);
    await writeFileAtomic(this.path("profile"), JSON.stringify(p.profile, null, 2) + "\n");
  }
}

export interface Credentials {
  profile: Profile;
  homeDir: string;
  keyPem: string;
  certPem: string;
  caPem: string;
  keyPkcs8: Uint8Array;
  certDer: Uint8Array;
  caDer: Uint8Array;
  host: string;
  port: number;
}

/** A small file's text, or null if it is not there (any read error counts as not there, as before). */
function readIfThere(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A file's mode, or null if it is not there. */
function statIfThere(path: string): number | null {
  try {
    return statSync(path).mode;
  } catch {
    return null;
  }
}
