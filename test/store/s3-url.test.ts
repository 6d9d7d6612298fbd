/** s3OptionsFromUrl: the --blobs s3:// location, credentials from the environment only. */
import { describe, expect, test } from "bun:test";
import { BlobUrlError, s3OptionsFromUrl } from "../../src/store/s3-url.ts";

const ENV = { S3_ACCESS_KEY_ID: "AKID", S3_SECRET_ACCESS_KEY: "hunter2-env" };

describe("s3OptionsFromUrl", () => {
  test("bucket, default prefix, endpoint, region and numbers; credentials from the environment", () => {
    expect(s3OptionsFromUrl("s3://sis-images?endpoint=https://s3.example.org:9000&region=eu-west-1&partSize=16777216&minOrphanAgeS=7200", ENV)).toEqual({
      endpoint: "https://s3.example.org:9000", bucket: "sis-images", prefix: "blobs/", accessKeyId: "AKID", secretAccessKey: "hunter2-env",
      region: "eu-west-1", partSize: 16777216, minOrphanAgeMs: 7_200_000,
    });
    expect(s3OptionsFromUrl("s3://sis-images/org/sis?endpoint=http://127.0.0.1:9000", { AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "S" })).toMatchObject({
      prefix: "org/sis/", accessKeyId: "A", secretAccessKey: "S", endpoint: "http://127.0.0.1:9000",
    });
  });

  const refused: [string, string, Record<string, string>, RegExp][] = [
    ["credentials in the URL", "s3://AKID:hunter2-value@sis-images?endpoint=https://h", ENV, /holds credentials.*environment/],
    ["credentials in the endpoint", "s3://sis-images?endpoint=https://AKID:hunter2-value@h", ENV, /endpoint holds credentials/],
    ["no credentials in the environment", "s3://sis-images?endpoint=https://h", {}, /no credentials; set S3_ACCESS_KEY_ID/],
    ["a missing endpoint", "s3://sis-images", ENV, /endpoint= is missing/],
    ["a non-http endpoint", "s3://sis-images?endpoint=file:///tmp", ENV, /http:\/\/ or https:\/\//],
    ["another scheme", "https://sis-images?endpoint=https://h", ENV, /scheme must be s3:/],
    ["an invalid bucket", "s3://Sis_Images?endpoint=https://h", ENV, /not a valid bucket name/],
    ["a prefix with odd characters", "s3://sis-images/a%20b?endpoint=https://h", ENV, /prefix/],
    ["an unknown parameter", "s3://sis-images?endpoint=https://h&secret=x", ENV, /unknown parameter "secret"/],
    ["a part size that is not a number", "s3://sis-images?endpoint=https://h&partSize=5MiB", ENV, /partSize must be a whole number/],
    ["not a URL", "sis-images", ENV, /not a URL/],
  ];
  for (const [what, url, env, reason] of refused) {
    test(`refuses ${what}, saying what to do`, () => {
      let error: unknown;
      try { s3OptionsFromUrl(url, env); } catch (e) { error = e; }
      expect(error).toBeInstanceOf(BlobUrlError);
      expect(String((error as Error).message)).toMatch(/^sis: cannot use the blob location: /);
      expect(String((error as Error).message)).toMatch(reason);
      expect(String((error as Error).message)).not.toContain("hunter2");
    });
  }
});
