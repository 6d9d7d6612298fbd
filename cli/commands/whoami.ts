/** sis whoami: the local registration, read from the client home. */
import { Home, resolveHome } from "../../src/client/home.ts";
import { certInfo } from "../../src/pki/index.ts";
import { parse } from "../args.ts";
import { usage } from "../../src/client/devices.ts";
import { formatSize } from "../format.ts";

export async function whoami(args: string[]): Promise<number> {
  const { values } = parse(args, { home: { type: "string" }, json: { type: "boolean", default: false } });
  const home = new Home(resolveHome(values.home));
  const creds = await home.credentials();
  const info = certInfo(creds.certDer);
  const fields = {
    user: creds.profile.username,
    serial: info.serial,
    notAfter: new Date(info.notAfter).toISOString(),
    caFingerprint: creds.profile.caFingerprint,
    server: creds.profile.server,
    home: home.dir,
    // (M25) Storage against the quota, asked of the server; null when it cannot be reached.
    usage: await usage(creds, 5_000).then((u) => ({ bytes: u.bytes, inFlight: u.inFlight, images: u.images, quota: u.quota }), () => null),
  };
  const exact = (n: number) => (n < 1024 ? `${n} B` : `${formatSize(n)} (${n} B)`);
  const used = fields.usage === null
    ? "unknown (the server cannot be reached)"
    : `${exact(fields.usage.bytes)} in ${fields.usage.images} image${fields.usage.images === 1 ? "" : "s"}, of ${fields.usage.quota === 0 ? "no quota" : `a ${exact(fields.usage.quota)} quota`}`;
  if (values.json) process.stdout.write(JSON.stringify(fields, null, 2) + "\n");
  else {
    process.stdout.write(
      `user        ${fields.user}\nserial      ${fields.serial}\nexpires     ${fields.notAfter}\nCA          ${fields.caFingerprint}\nserver      ${fields.server}\nhome        ${fields.home}\nstorage     ${used}\n`,
    );
  }
  return 0;
}
