/** The user's own account on the server (PROTOCOL.md M20–M29): link codes, devices, usage, deleting an image. */
import type { ServerMessageOf } from "../protocol/index.ts";
import type { Credentials } from "./home.ts";
import { connectAs } from "./session.ts";

async function withConnection<T>(creds: Credentials, task: (conn: Awaited<ReturnType<typeof connectAs>>) => Promise<T>, timeoutMs?: number): Promise<T> {
  const conn = await connectAs(creds, timeoutMs);
  try {
    return await task(conn);
  } finally {
    conn.close();
  }
}

export function createLinkCode(creds: Credentials): Promise<ServerMessageOf<"LINK_CREATED">> {
  return withConnection(creds, (c) => c.expect({ type: "CREATE_LINK" }, "LINK_CREATED"));
}

export async function listDevices(creds: Credentials): Promise<ServerMessageOf<"DEVICES">["devices"]> {
  return (await withConnection(creds, (c) => c.expect({ type: "LIST_DEVICES" }, "DEVICES"))).devices;
}

export function removeDevice(creds: Credentials, serial: string): Promise<ServerMessageOf<"DEVICE_REMOVED">> {
  return withConnection(creds, (c) => c.expect({ type: "REMOVE_DEVICE", serial }, "DEVICE_REMOVED"));
}

export function usage(creds: Credentials, timeoutMs?: number): Promise<ServerMessageOf<"USAGE">> {
  return withConnection(creds, (c) => c.expect({ type: "GET_USAGE" }, "USAGE"), timeoutMs);
}

export async function deleteImage(creds: Credentials, name: string): Promise<ServerMessageOf<"DELETED">["image"]> {
  return (await withConnection(creds, (c) => c.expect({ type: "DELETE_IMAGE", name }, "DELETED"))).image;
}
