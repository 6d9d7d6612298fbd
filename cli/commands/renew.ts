/** sis renew: a new certificate over mutual TLS with the current one, no password (RN1–RN5). */
import { Home, resolveHome } from "../../src/client/home.ts";
import { renew } from "../../src/client/renew.ts";
import { intOption, parse } from "../args.ts";

export async function renewCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { home: { type: "string" }, rekey: { type: "boolean", default: false }, "key-bits": { type: "string" } });
  const home = new Home(resolveHome(values.home));
  const keyBits = values["key-bits"] === undefined ? undefined : intOption(values["key-bits"], "key-bits", 3072, 2048, 8192);
  const result = await renew(home, { rekey: values.rekey, ...(keyBits !== undefined ? { keyBits } : {}) });
  const p = result.creds.profile;
  process.stdout.write(
    `renewed ${p.username}'s certificate${result.rekeyed ? " with a new key" : ""} at ${p.server}\n` +
      `certificate serial ${p.serial}, valid until ${new Date(p.notAfter).toISOString()}\n` +
      `the previous certificate (serial ${result.previousSerial}) stays valid until it expires\n` +
      `home ${home.dir}\n`,
  );
  return 0;
}
