/** Helpers for test/security: a real server on 127.0.0.1, real registered users, and the checks every hostile-input row makes. */
import "../../src/pki/setup.ts";
import { expect, setDefaultTimeout } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../../src/client/connection.ts";
import { Home, type Credentials } from "../../src/client/home.ts";
import { register } from "../../src/client/register.ts";
import { connectAs } from "../../src/client/session.ts";
import {
  cipherSize, createImageDigest, encodeHeader, generateContentKey, importEcdhWrapKey, newHeader, sealStream, signImage, wrapKey, wrapKeyEcdh,
} from "../../src/crypto/index.ts";
import { encodeMessage, fromBase64, toBase64, type ClientMessageOf, type ServerMessage } from "../../src/protocol/index.ts";
import type { ServerLimits } from "../../src/server/context.ts";
import { silentLogger } from "../../src/server/logger.ts";
import { startServer, type RunningServer } from "../../src/app/serve.ts";
import { tempDir } from "./cli.ts";
import { rawConnect, type ErrorReply, type RawClient } from "./raw-client.ts";
import { sandboxAround, sandboxHooks, type Sandbox as SharedSandbox } from "./sandbox.ts";

export { until } from "./until.ts";
export type { ErrorReply } from "./raw-client.ts";

/** The sandbox of test/security: a server started in-process (src/app/serve.ts). */
export type Sandbox = SharedSandbox<RunningServer>;

/** A server on 127.0.0.1, port 0, in a fresh temporary data directory. */
export async function startSandbox(limits: Partial<ServerLimits> = {}, opts: { openRegistration?: boolean } = {}): Promise<Sandbox> {
  const root = tempDir("sis-security-");
  // Open registration unless a test is about invitations (M6): the rows here register users freely.
  const server = await startServer({
    dataDir: join(root, "data"), host: "127.0.0.1", port: 0, httpHost: "127.0.0.1", httpPort: null, log: silentLogger, version: "test", limits,
    openRegistration: opts.openRegistration ?? true,
  });
  return sandboxAround(root, server);
}

export interface User {
  name: string;
  password: string;
  home: Home;
  creds: Credentials;
}

/** Registers through the real client (register(), 2048-bit key, pinned by fingerprint). */
export async function registerUser(sb: Sandbox, name: string, password = `${name}-password-1`): Promise<User> {
  const home = new Home(join(sb.root, "homes", name));
  await register({ home, server: `127.0.0.1:${sb.port}`, username: name, password, caFingerprint: sb.server.caFingerprint, keyBits: 2048 });
  return { name, password, home, creds: await home.credentials() };
}

/**
 * The file's sandbox, started with `users` registered before its tests (then `ready`
 * gets both), disposed after them. Real TLS, argon2id and RSA keys: every test of the
 * file gets a generous 30 s on a loaded machine (no timing is asserted).
 */
export function sandboxForFile<const N extends readonly string[]>(
  users: N,
  ready: (sb: Sandbox, users: { -readonly [K in keyof N]: User }) => void | Promise<void>,
  limits: Partial<ServerLimits> = {},
): void {
  setDefaultTimeout(30_000);
  sandboxHooks(() => startSandbox(limits), async (sb) => {
    const registered = await Promise.all(users.map((name) => registerUser(sb, name)));
    await ready(sb, registered as { -readonly [K in keyof N]: User });
  });
}

/** A raw TLS connection, as `user` (mutual TLS) or anonymous, that has not said HELLO yet. */
export function raw(sb: Sandbox, user?: User | { certPem: string; keyPem: string }): Promise<RawClient> {
  if (!user) return rawConnect(sb.port);
  const pair = "creds" in user ? { certPem: user.creds.certPem, keyPem: user.creds.keyPem } : user;
  return rawConnect(sb.port, pair);
}

/** A raw connection that has exchanged HELLOs; returns the server's HELLO too. */
export async function rawHello(sb: Sandbox, user?: User): Promise<{ client: RawClient; hello: Extract<ServerMessage, { type: "HELLO" }> }> {
  const client = await raw(sb, user);
  const hello = await client.hello();
  if (hello?.type !== "HELLO") throw new Error(`expected HELLO, got ${JSON.stringify(hello)?.slice(0, 300)}`);
  return { client, hello };
}

/** What a peer may see in an error: no stack trace, no server path, no source location. */
export function expectSafeMessage(message: string): void {
  expect(message.length).toBeGreaterThan(0);
  expect(message).not.toContain("/work");
  expect(message).not.toContain(tmpdir());
  expect(message).not.toMatch(/\n\s*at\s|\bat .*:\d+:\d+/);
  expect(message).not.toContain("\n");
  expect(message).not.toMatch(/\.ts:|\.js:/);
  expect(message).not.toContain("node_modules");
  expect(message).not.toMatch(/Error:/);
}

/**
 * The next message must be ERROR `code` with a safe message. A fatal code must
 * close the connection with nothing after it; a non-fatal one must leave the
 * connection usable (a PING still gets its PONG).
 */
export async function expectRefusal(client: RawClient, code: string, fatal: boolean): Promise<ErrorReply> {
  const reply = await client.next();
  if (reply === null) throw new Error(`the server closed the connection instead of answering ${code}`);
  if (reply.type !== "ERROR") throw new Error(`expected ERROR ${code}, got ${JSON.stringify(reply).slice(0, 300)}`);
  expect(reply.code).toBe(code);
  expectSafeMessage(reply.message);
  if (fatal) {
    expect(await client.next()).toBeNull();
    await client.closed;
  } else {
    client.write(encodeMessage({ type: "PING" }));
    expect((await client.next())?.type).toBe("PONG");
  }
  return reply;
}

/** The server still serves a legitimate client: a fresh anonymous HELLO, and `user` connects and lists. */
export async function expectStillServing(sb: Sandbox, user: User): Promise<void> {
  const { client, hello } = await rawHello(sb);
  expect(hello.user).toBeNull();
  client.close();
  const conn = await connectAs(user.creds);
  try {
    const page = await conn.request({ type: "LIST", limit: 100 });
    expect(page.type).toBe("IMAGES");
  } finally {
    conn.close();
  }
}

/** Names of the images the server lists (newest first), through the real client. */
export async function listedNames(user: User): Promise<string[]> {
  const conn = await connectAs(user.creds);
  try {
    const page = await conn.request({ type: "LIST", limit: 100 });
    if (page.type !== "IMAGES") throw new Error(`expected IMAGES, got ${page.type}`);
    return page.images.map((i) => `${i.owner}/${i.name}`);
  } finally {
    conn.close();
  }
}

export function tmpFiles(sb: Sandbox): string[] {
  return readdirSync(sb.tmpDir);
}

export type PostImage = ClientMessageOf<"POST_IMAGE">;

export interface CraftOptions {
  name: string;
  bytes: Uint8Array;
  contentType?: string;
  /** What the envelope header claims, where it should lie. */
  header?: { owner?: string; name?: string; contentType?: string; size?: number };
  /** Sign as someone else (their certificate and key); the header still names `user`. */
  signer?: User;
  /** Wrap the key for this certificate instead of the server's storage certificate. */
  wrapFor?: Uint8Array;
  /** Wrap the key by key agreement (ENVELOPE.md W7) for this P-256 certificate instead. */
  wrapEcdhFor?: Uint8Array;
}

/**
 * A POST_IMAGE and its ciphertext made with the real crypto, for uploads a
 * well-behaved client would never send (non-image bytes, lying sizes, a
 * signature by another user, a key wrapped for the wrong party).
 */
export async function craftPost(user: User, storageCertDer: Uint8Array, o: CraftOptions): Promise<{ message: PostImage; ciphertext: Uint8Array }> {
  const contentType = o.contentType ?? "image/png";
  const signer = o.signer ?? user;
  const digest = createImageDigest();
  digest.update(o.bytes);
  const signature = await signImage({
    digest: digest.digest(), owner: user.name, name: o.name, contentType, certDer: signer.creds.certDer, privateKeyPkcs8: signer.creds.keyPkcs8,
  });
  const header = newHeader({
    owner: o.header?.owner ?? user.name, name: o.header?.name ?? o.name, contentType: o.header?.contentType ?? contentType, size: o.header?.size ?? o.bytes.length,
  });
  const key = generateContentKey();
  const wrappedKey = o.wrapEcdhFor ? await wrapKeyEcdh(key, await importEcdhWrapKey(o.wrapEcdhFor)) : await wrapKey(key, o.wrapFor ?? storageCertDer);
  const chunks: Uint8Array[] = [];
  if (header.size === o.bytes.length) {
    for await (const chunk of sealStream(key, header, (async function* () { yield o.bytes; })())) chunks.push(chunk);
  }
  return {
    message: {
      type: "POST_IMAGE", name: o.name, contentType, size: o.bytes.length, dataSize: cipherSize(o.bytes.length),
      header: toBase64(encodeHeader(header)), signature: toBase64(signature), wrappedKey: toBase64(wrappedKey),
    },
    ciphertext: new Uint8Array(Buffer.concat(chunks)),
  };
}

/** A POST_IMAGE whose crypto fields are placeholders: for requests the server must refuse on their name or size alone. */
export function placeholderPost(fields: Partial<PostImage> & { name: string }): PostImage {
  return {
    type: "POST_IMAGE", contentType: "image/png", size: 100, dataSize: cipherSize(100), header: "AAAA", signature: "AAAA", wrappedKey: "AAAA", ...fields,
  };
}

/** The storage certificate the server announces in its HELLO. */
export function storageCert(hello: Extract<ServerMessage, { type: "HELLO" }>): Uint8Array {
  return fromBase64(hello.storageCertificate);
}

/** The storage certificate, read from the HELLO of a connection opened for it and closed (a file's setup reads it once). */
export async function announcedStorageCert(sb: Sandbox, user?: User): Promise<Uint8Array> {
  const { client, hello } = await rawHello(sb, user);
  client.close();
  return storageCert(hello);
}

/** Some plaintext that starts like a PNG (the receiver sniffs the type) and is `size` bytes long. */
export function pngLike(size: number, fill = 7): Uint8Array {
  const bytes = new Uint8Array(size).fill(fill);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  return bytes;
}

export { Connection };
