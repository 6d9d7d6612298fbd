/** Changing the password (M14): PASSWD over a connection authenticated by this device's certificate. */
import type { Credentials } from "./home.ts";
import { connectAs } from "./session.ts";

export async function changePassword(creds: Credentials, current: string, next: string): Promise<string> {
  const conn = await connectAs(creds);
  try {
    const reply = await conn.expect({ type: "PASSWD", password: current, newPassword: next }, "PASSWD_CHANGED");
    return reply.username;
  } finally {
    conn.close();
  }
}
