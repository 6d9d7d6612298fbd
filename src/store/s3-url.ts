/** Reads `--blobs s3://bucket[/prefix/]?endpoint=…&region=…` into S3BlobStore options; the credentials come from the environment, never the URL. */
import type { S3BlobStoreOptions } from "./s3-blob-store.ts";

/** The environment variables the credentials are read from (Bun's own names, then AWS's). */
export const ACCESS_KEY_VARS = ["S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"] as const;
export const SECRET_KEY_VARS = ["S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"] as const;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX = /^([A-Za-z0-9._-]+\/)*$/;
const KNOWN = new Set(["endpoint", "region", "partSize", "minOrphanAgeS"]);

export class BlobUrlError extends Error {
  override readonly name = "BlobUrlError";
}

function pick(env: Record<string, string | undefined>, names: readonly string[]): string | undefined {
  for (const n of names) if (env[n]) return env[n];
  return undefined;
}

/**
 * Parses an s3:// blob location. Refuses credentials in the URL (a secret on
 * a command line is visible to every user of the machine), an unknown
 * parameter, a bucket name S3 would refuse, and an endpoint that is not
 * http(s). The endpoint is required: sis never guesses a public cloud.
 */
export function s3OptionsFromUrl(text: string, env: Record<string, string | undefined>): S3BlobStoreOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BlobUrlError(`sis: cannot use the blob location: not a URL; write s3://BUCKET?endpoint=https://HOST`);
  }
  if (url.protocol !== "s3:") throw new BlobUrlError(`sis: cannot use the blob location: the scheme must be s3:, not ${url.protocol}`);
  if (url.username || url.password) {
    throw new BlobUrlError("sis: cannot use the blob location: it holds credentials; remove them and set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY in the environment instead");
  }
  const bucket = url.hostname;
  if (!BUCKET.test(bucket)) throw new BlobUrlError(`sis: cannot use the blob location: ${JSON.stringify(bucket)} is not a valid bucket name`);
  const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
  const prefix = path === "" ? "blobs/" : path.endsWith("/") ? path : `${path}/`;
  if (!PREFIX.test(prefix)) throw new BlobUrlError(`sis: cannot use the blob location: the prefix ${JSON.stringify(prefix)} may hold only letters, digits, '.', '_', '-' and '/'`);
  for (const key of url.searchParams.keys()) {
    if (!KNOWN.has(key)) throw new BlobUrlError(`sis: cannot use the blob location: unknown parameter ${JSON.stringify(key)} (known: ${[...KNOWN].join(", ")})`);
  }
  const endpoint = url.searchParams.get("endpoint");
  if (!endpoint) throw new BlobUrlError("sis: cannot use the blob location: endpoint= is missing; write s3://BUCKET?endpoint=https://HOST");
  let end: URL;
  try {
    end = new URL(endpoint);
  } catch {
    throw new BlobUrlError(`sis: cannot use the blob location: the endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  if (end.protocol !== "https:" && end.protocol !== "http:") throw new BlobUrlError("sis: cannot use the blob location: the endpoint must be http:// or https://");
  if (end.username || end.password) throw new BlobUrlError("sis: cannot use the blob location: the endpoint holds credentials; set them in the environment instead");
  const accessKeyId = pick(env, ACCESS_KEY_VARS);
  const secretAccessKey = pick(env, SECRET_KEY_VARS);
  if (!accessKeyId || !secretAccessKey) {
    throw new BlobUrlError("sis: cannot use the blob location: no credentials; set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY in the environment (or the AWS_ names)");
  }
  const options: S3BlobStoreOptions = { endpoint: end.origin, bucket, prefix, accessKeyId, secretAccessKey };
  const region = url.searchParams.get("region");
  if (region !== null) options.region = region;
  const number = (name: string): number | undefined => {
    const v = url.searchParams.get(name);
    if (v === null) return undefined;
    if (!/^\d{1,12}$/.test(v)) throw new BlobUrlError(`sis: cannot use the blob location: ${name} must be a whole number`);
    return Number(v);
  };
  const partSize = number("partSize");
  if (partSize !== undefined) options.partSize = partSize;
  const age = number("minOrphanAgeS");
  if (age !== undefined) options.minOrphanAgeMs = age * 1000;
  return options;
}
