/** sis rm NAME: delete one of your own images on the server (the work is src/client/devices.ts). */
import { deleteImage } from "../../src/client/devices.ts";
import { Home, resolveHome } from "../../src/client/home.ts";
import { parse } from "../args.ts";

export async function rm(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: "string" } }, { min: 1, max: 1 });
  const creds = await new Home(resolveHome(values.home)).credentials();
  const image = await deleteImage(creds, positionals[0]!);
  process.stdout.write(`deleted ${image.owner}/${image.name} (#${image.seq}) from the server; copies others already saved are theirs\n`);
  return 0;
}
