/** Request handlers (P19–P26) against a tiny fake peer: the wired context of a real server, no socket in between. */
// Before anything that loads @peculiar/x509 (docs/IMPLEMENTATION.md I4): bun evaluates its CommonJS early otherwise.
import "../../src/pki/reflect-polyfill.ts";
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { verifyCrl } from "../../src/pki/index.ts";
import {
  CONTROL, DATA, decodeServerMessage, FrameDecoder, MAX_DATA_FRAME, MAX_UPLOADS_PER_USER, ProtocolError,
  type ClientMessage, type Frame, type ServerMessage,
} from "../../src/protocol/index.ts";
import type { ServerContext } from "../../src/server/context.ts";
import { dispatch, HANDLERS } from "../../src/server/dispatch.ts";
import type { Identity } from "../../src/server/identify.ts";
import type { Peer, Upload } from "../../src/server/peer.ts";
import { craftPost, pngLike, sandboxForFile, type Sandbox, type User } from "../support/security-kit.ts";
import { until } from "../support/until.ts";

let sb: Sandbox;
let ctx: ServerContext;
let hana: User;
let hanaId: Identity;
sandboxForFile(["hana"], async (box, [hana_]) => {
  sb = box;
  ctx = box.server.context;
  hana = hana_;
  const user = (await ctx.store.findUser("hana"))!;
  hanaId = { userId: user.id, username: "hana", serial: hana.creds.profile.serial, certDer: hana.creds.certDer };
});

/**
 * Everything a handler may do with its connection (peer.ts), recorded. It keeps
 * the Peer contract as Session does: once closed it drops what it is sent, and a
 * closed peer refuses an upload and aborts it.
 */
class FakePeer implements Peer {
  readonly address = "192.0.2.7";
  readonly sent: ServerMessage[] = [];
  readonly data: Uint8Array[] = [];
  readonly backlog = 0;
  closed = false;
  /** A version-1 connection: no upload ids, no pipeline (P30). */
  readonly version = 1;
  readonly pipeline = null;
  upload: Upload | null = null;
  private readonly decoder = new FrameDecoder();

  constructor(readonly identity: Identity | null = null) {}

  send(message: ServerMessage): void {
    if (!this.closed) this.sent.push(message);
  }
  sendControl(frame: Uint8Array): void {
    this.sendFrame(frame);
  }
  sendData(bytes: Uint8Array): void {
    if (!this.closed) this.data.push(bytes.slice());
  }
  /** Whole frames: decoded, so a test reads messages and data alike. */
  sendFrame(frame: Uint8Array): void {
    if (this.closed) return;
    for (const f of this.decoder.push(frame)) {
      if (f.kind === CONTROL) this.sent.push(decodeServerMessage(f.payload));
      else this.data.push(f.payload.slice());
    }
  }
  async below(): Promise<void> {}
  touch(): void {}
  beginUpload(upload: Upload): boolean {
    if (this.closed) {
      void upload.abort();
      return false;
    }
    this.upload = upload;
    return true;
  }
  endUpload(): void {
    this.upload = null;
  }
}

function dataFrame(payload: Uint8Array): Frame {
  return { kind: DATA, payload };
}

async function refusal(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ProtocolError) return error.code;
    throw error;
  }
  throw new Error("the handler did not refuse");
}

describe("handlers against a fake peer", () => {
  test("PING gets PONG and a second HELLO is refused, through the dispatch table", async () => {
    const peer = new FakePeer();
    await dispatch(ctx, peer, { type: "PING" });
    expect(peer.sent).toEqual([{ type: "PONG" }]);
    expect(await refusal(() => dispatch(ctx, peer, { type: "HELLO", protocol: "sis", version: 1 } as ClientMessage))).toBe("BAD_MESSAGE");
    // Every message type has its handler.
    expect(Object.keys(HANDLERS).sort()).toEqual(["CREATE_LINK", "DELETE_IMAGE", "DOWNLOAD", "GET_CRL", "GET_USAGE", "HELLO", "LINK_DEVICE", "LIST", "LIST_DEVICES", "PASSWD", "PING", "POST_IMAGE", "POST_SIGNATURE", "REGISTER", "REMOVE_DEVICE", "RENEW", "WATCH_INCOMING"]);
  });

  test("GET_CRL sends the CRL message, then its DER as data frames (P26)", async () => {
    const peer = new FakePeer();
    await HANDLERS.GET_CRL(ctx, peer, { type: "GET_CRL" });
    const [head] = peer.sent;
    expect(head).toMatchObject({ type: "CRL" });
    const der = new Uint8Array(Buffer.concat(peer.data));
    expect(der.length).toBe((head as { dataSize: number }).dataSize);
    await verifyCrl(der, ctx.ca.certDer);
  });

  test("POST_IMAGE takes the upload, and its last data frame stores, acknowledges and hands the connection back (P19–P22)", async () => {
    const peer = new FakePeer(hanaId);
    const bytes = pngLike(3 * MAX_DATA_FRAME + 10);
    const { message, ciphertext } = await craftPost(hana, ctx.storageCertDer, { name: "fake-peer.png", bytes });
    await HANDLERS.POST_IMAGE(ctx, peer, message);
    expect(peer.sent).toEqual([{ type: "UPLOAD_READY" }]);
    const upload = peer.upload!;
    expect(upload).not.toBeNull();
    for (let at = 0; at < ciphertext.length; at += MAX_DATA_FRAME) await upload.receive(dataFrame(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
    expect(peer.upload).toBeNull();
    expect(peer.sent[1]).toMatchObject({ type: "POSTED", image: { owner: "hana", name: "fake-peer.png", size: bytes.length } });
    const record = await ctx.store.findImageByName("hana", "fake-peer.png");
    expect(record?.cipherSize).toBe(ciphertext.length);
  });

  test("POST_IMAGE for a connection that closed while the request awaited keeps no upload slot and no file", async () => {
    const peer = new FakePeer(hanaId);
    const { message } = await craftPost(hana, ctx.storageCertDer, { name: "gone.png", bytes: pngLike(1000) });
    // The connection goes while the handler waits for the blob store.
    const blobs = ctx.blobs;
    ctx.blobs = {
      ...blobs,
      create: async (id) => {
        peer.closed = true;
        return blobs.create(id);
      },
      read: (id, size) => blobs.read(id, size),
      open: (id) => blobs.open(id),
      remove: (id) => blobs.remove(id),
      sweep: (keep) => blobs.sweep(keep),
    };
    try {
      await HANDLERS.POST_IMAGE(ctx, peer, message);
    } finally {
      ctx.blobs = blobs;
    }
    expect(peer.sent).toEqual([]);
    expect(peer.upload).toBeNull();
    await until(() => readdirSync(sb.tmpDir).length === 0, "the temporary file to be removed");
    // Every upload slot of hana's is free again.
    for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) expect(ctx.hub.beginUpload("hana", MAX_UPLOADS_PER_USER)).toBe(true);
    for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) ctx.hub.endUpload("hana");
  });

  test("POST_IMAGE whose connection closed before its last frame was recorded keeps nothing: no record, no blob, no slot (O2)", async () => {
    const peer = new FakePeer(hanaId);
    const { message, ciphertext } = await craftPost(hana, ctx.storageCertDer, { name: "closed-at-commit.png", bytes: pngLike(2 * MAX_DATA_FRAME + 10) });
    await HANDLERS.POST_IMAGE(ctx, peer, message);
    const upload = peer.upload!;
    const last = Math.floor((ciphertext.length - 1) / MAX_DATA_FRAME) * MAX_DATA_FRAME;
    for (let at = 0; at < last; at += MAX_DATA_FRAME) await upload.receive(dataFrame(ciphertext.subarray(at, at + MAX_DATA_FRAME)));
    // The server stopping closes the session while the last frame is being committed (FakePeer is
    // called directly, so its upload is not aborted by a close here: the commit itself must look).
    peer.closed = true;
    const before = (await ctx.store.allImageIds()).size;
    await upload.receive(dataFrame(ciphertext.subarray(last)));
    expect(await ctx.store.findImageByName("hana", "closed-at-commit.png")).toBeNull();
    expect((await ctx.store.allImageIds()).size).toBe(before);
    expect(readdirSync(sb.tmpDir)).toEqual([]);
    expect(readdirSync(join(sb.root, "data", "blobs")).filter((f) => f !== "tmp").length).toBe(before);
    for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) expect(ctx.hub.beginUpload("hana", MAX_UPLOADS_PER_USER)).toBe(true);
    for (let i = 0; i < MAX_UPLOADS_PER_USER; i++) ctx.hub.endUpload("hana");
  });

  test("LIST needs an identity and pages the store's records as image metadata only (P23, D5)", async () => {
    expect(await refusal(() => HANDLERS.LIST(ctx, new FakePeer(), { type: "LIST" }))).toBe("AUTH_REQUIRED");
    const peer = new FakePeer(hanaId);
    await HANDLERS.LIST(ctx, peer, { type: "LIST", limit: 5 });
    const record = (await ctx.store.findImageByName("hana", "fake-peer.png"))!;
    expect(peer.sent).toEqual([{
      type: "IMAGES",
      images: [{ seq: record.seq, id: record.id, owner: "hana", name: "fake-peer.png", size: record.size, contentType: "image/png", createdAt: record.createdAt }],
      next: null,
    }]);
  });

  test("DOWNLOAD sends IMAGE with a key wrapped for the requester, then exactly the stored ciphertext (P23, P24)", async () => {
    const record = (await ctx.store.findImageByName("hana", "fake-peer.png"))!;
    const peer = new FakePeer(hanaId);
    await HANDLERS.DOWNLOAD(ctx, peer, { type: "DOWNLOAD", id: record.id });
    expect(peer.sent[0]).toMatchObject({ type: "IMAGE", image: { id: record.id, name: "fake-peer.png" }, dataSize: record.cipherSize });
    expect(peer.data.reduce((n, d) => n + d.length, 0)).toBe(record.cipherSize);
    expect(await refusal(() => HANDLERS.DOWNLOAD(ctx, new FakePeer(hanaId), { type: "DOWNLOAD", id: "0".repeat(32) }))).toBe("NOT_FOUND");
  });
});
