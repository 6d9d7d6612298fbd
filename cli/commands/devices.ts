/** sis devices: list this user's certificates (devices), make a link code for a new one, remove one (the work is src/client/devices.ts). */
import { createLinkCode, listDevices, removeDevice } from "../../src/client/devices.ts";
import { Home, resolveHome } from "../../src/client/home.ts";
import { parse, UsageError } from "../args.ts";
import { table } from "../format.ts";

export async function devices(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "link") return link(rest);
  if (sub === "remove") return remove(rest);
  if (sub === undefined || sub.startsWith("-")) return show(args);
  throw new UsageError(`no devices command '${sub}'; say 'link', 'remove SERIAL', or nothing to list`);
}

async function show(args: string[]): Promise<number> {
  const { values } = parse(args, { home: { type: "string" }, json: { type: "boolean", default: false } });
  const creds = await new Home(resolveHome(values.home)).credentials();
  const list = await listDevices(creds);
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const rows = list.map((d) => ({
    serial: d.serial,
    device: d.device,
    created: iso(d.createdAt),
    notAfter: iso(d.notAfter),
    lastUsed: iso(d.lastSeenAt),
    state: d.revokedAt !== null ? "removed" : d.notAfter < Date.now() ? "expired" : "valid",
    current: d.current,
  }));
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  else {
    process.stdout.write(table([
      ["SERIAL", "DEVICE", "LAST USED", "STATE", "CREATED"],
      ...rows.map((r) => [r.serial + (r.current ? " *" : ""), r.device ?? "-", r.lastUsed ?? "never", r.state, r.created!]),
    ]));
    process.stdout.write("* this device\n");
  }
  return 0;
}

async function link(args: string[]): Promise<number> {
  const { values } = parse(args, { home: { type: "string" } });
  const creds = await new Home(resolveHome(values.home)).credentials();
  const made = await createLinkCode(creds);
  const minutes = Math.round((made.expiresAt - Date.now()) / 60_000);
  const p = creds.profile;
  process.stdout.write(
    `${made.code}\n` +
      `This one-time code enrols one new device as ${p.username}; it works once, for ${minutes} minutes (until ${new Date(made.expiresAt).toISOString()}).\n` +
      `On the new device run, and type the code when asked:\n` +
      `  sis register --link - --server ${p.server} --ca-fingerprint ${p.caFingerprint} [--device NAME]\n` +
      `Anyone with the code in that time becomes you on a new device: keep it to yourself.\n`,
  );
  return 0;
}

async function remove(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: "string" } }, { min: 1, max: 1 });
  const creds = await new Home(resolveHome(values.home)).credentials();
  const r = await removeDevice(creds, positionals[0]!);
  process.stdout.write(r.alreadyRevoked ? `certificate ${r.serial} was already removed\n` : `removed certificate ${r.serial}: it is refused from now on, and its open connections end within seconds\n`);
  return 0;
}
