/** sis register: key, CSR, certificate; the CA pinned on first contact. */
import { Home, resolveHome } from "../../src/client/home.ts";
import { ClientError } from "../../src/client/errors.ts";
import { ensureHomeFree, register } from "../../src/client/register.ts";
import { passwordProblem } from "../../src/protocol/index.ts";
import { intOption, parse, UsageError } from "../args.ts";
import { askYesNo, readPassword } from "../password.ts";
import { hostname } from "node:os";
import { linkDevice } from "../../src/client/link.ts";
import { readLinkCode } from "../link-code.ts";
import { readInvitation } from "../invitation-input.ts";

export async function registerCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    server: { type: "string" },
    user: { type: "string" },
    home: { type: "string" },
    "password-stdin": { type: "boolean", default: false },
    "ca-fingerprint": { type: "string" },
    "key-bits": { type: "string" },
    // A new device linked with a one-time code (M22), and its name (M21).
    link: { type: "string" },
    device: { type: "string" },
    invite: { type: "string" },
  });
  // Membership (M4): an invitation names the server and its CA; it is read before the password (stdin's first line).
  const invitation = await readInvitation(values.invite);
  if (invitation) {
    if (values.server || values["ca-fingerprint"]) throw new UsageError("an invitation names the server and its CA fingerprint: leave out --server and --ca-fingerprint");
    values.server = `${invitation.host}:${invitation.port}`;
    values["ca-fingerprint"] = invitation.fingerprint;
  }
  if (!values.server) throw new UsageError("--server HOST:PORT is required (or --invite INVITATION)");
  const device = values.device ?? hostname();
  if (values.link !== undefined) return linkCommand(values, device);
  // An invitation made for a name names the user (M4); any other registration needs --user.
  if (!values.user && !invitation) throw new UsageError("--user NAME is required");
  const keyBits = intOption(values["key-bits"], "key-bits", 3072, 2048, 8192);
  const home = new Home(resolveHome(values.home));
  // Before the password is asked for: a home that is not free is refused without it.
  await ensureHomeFree(home, values.user);
  const password = await readPassword({ stdin: values["password-stdin"], confirm: false });
  const weak = passwordProblem(password);
  if (weak) throw new ClientError(`cannot register: ${weak}`);
  const interactive = Boolean(process.stdin.isTTY) && !values["password-stdin"];
  const result = await register({
    home,
    server: values.server,
    ...(values.user ? { username: values.user } : {}),
    password,
    keyBits,
    device,
    ...(values["ca-fingerprint"] ? { caFingerprint: values["ca-fingerprint"] } : {}),
    ...(invitation ? { invitation: invitation.secret } : {}),
    ...(interactive
      ? { confirmFingerprint: (fp: string) => askYesNo(`The server's CA fingerprint (SHA-256) is\n  ${fp}\nCompare it with the one the operator gave you. Trust it? [y/N] `) }
      : {}),
  });
  const p = result.profile;
  process.stdout.write(
    `${result.newUser ? "registered" : "enrolled a new key for"} ${p.username} at ${p.server}\n` +
      `certificate serial ${p.serial}, valid until ${new Date(p.notAfter).toISOString()}\n` +
      `pinned CA ${result.caFingerprint}\n` +
      `home ${home.dir}\n`,
  );
  return 0;
}

/** sis register --link -: enrol this device's key for the user who made the code, without the password (M22). */
async function linkCommand(values: { server?: string; home?: string; link?: string; "ca-fingerprint"?: string; "key-bits"?: string; user?: string }, device: string): Promise<number> {
  if (values.user) throw new UsageError("--link enrols for the user who made the code; leave out --user");
  const keyBits = intOption(values["key-bits"], "key-bits", 3072, 2048, 8192);
  const home = new Home(resolveHome(values.home));
  const code = await readLinkCode(values.link!);
  const interactive = Boolean(process.stdin.isTTY) && !process.env.SIS_LINK_CODE;
  const result = await linkDevice({
    home,
    server: values.server!,
    code,
    device,
    keyBits,
    ...(values["ca-fingerprint"] ? { caFingerprint: values["ca-fingerprint"] } : {}),
    ...(interactive
      ? { confirmFingerprint: (fp: string) => askYesNo(`The server's CA fingerprint (SHA-256) is\n  ${fp}\nCompare it with the one the operator gave you. Trust it? [y/N] `) }
      : {}),
  });
  const p = result.profile;
  process.stdout.write(
    `linked this device (${device}) to ${p.username} at ${p.server}\n` +
      `certificate serial ${p.serial}, valid until ${new Date(p.notAfter).toISOString()}\n` +
      `pinned CA ${result.caFingerprint}\n` +
      `home ${home.dir}\n`,
  );
  return 0;
}
