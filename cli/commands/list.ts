/** sis list: the images on the server, newest first. */
import { Home, resolveHome } from "../../src/client/home.ts";
import { connectAs } from "../../src/client/session.ts";
import { LIST_PAGE_MAX, type ImageMeta } from "../../src/protocol/index.ts";
import { intOption, parse } from "../args.ts";
import { formatSize, table } from "../format.ts";

export async function list(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: "boolean", default: false }, limit: { type: "string" }, home: { type: "string" } });
  const limit = intOption(values.limit, "limit", 1000, 1, 1_000_000);
  const creds = await new Home(resolveHome(values.home)).credentials();
  const conn = await connectAs(creds);
  const images: ImageMeta[] = [];
  try {
    let before: number | undefined;
    while (images.length < limit) {
      const page = await conn.expect({ type: "LIST", ...(before !== undefined ? { before } : {}), limit: Math.min(LIST_PAGE_MAX, limit - images.length) }, "IMAGES");
      images.push(...page.images);
      if (page.next === null) break;
      before = page.next;
    }
  } finally {
    conn.close();
  }
  if (values.json) {
    process.stdout.write(JSON.stringify(images.map((i) => ({ ...i, createdAt: new Date(i.createdAt).toISOString() })), null, 2) + "\n");
  } else if (images.length === 0) {
    process.stdout.write("no images yet; post one with 'sis post FILE'\n");
  } else {
    const rows = [["ID", "OWNER/NAME", "SIZE", "TYPE", "TIME"]];
    for (const i of images) rows.push([i.id, `${i.owner}/${i.name}`, formatSize(i.size), i.contentType, new Date(i.createdAt).toISOString()]);
    process.stdout.write(table(rows));
  }
  return 0;
}
