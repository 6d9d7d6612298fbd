/** sis whoami: the local registration, read from the client home. */
import { Home, resolveHome } from "../../src/client/home.ts";
import { certInfo } from "../../src/pki/index.ts";
import { parse } from "../args.ts";

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
  };
  if (values.json) process.stdout.write(JSON.stringify(fields, null, 2) + "\n");
  else {
    process.stdout.write(
      `user        ${fields.user}\nserial      ${fields.serial}\nexpires     ${fields.notAfter}\nCA          ${fields.caFingerprint}\nserver      ${fields.server}\nhome        ${fields.home}\n`,
    );
  }
  return 0;
}
