/** A real pseudo-terminal: one shell command in its own tmux server and session, typed into and read back as a person sees it. */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";

export interface Terminal extends AsyncDisposable {
  /** The visible screen, wrapped lines joined (capture-pane -p -J). */
  screen(): Promise<string>;
  /** Types `text` literally, then Enter. */
  type(text: string): Promise<void>;
  /** Presses one key as tmux names it (`C-c` is Ctrl-C: SIGINT to the foreground process). */
  press(key: string): Promise<void>;
  /** Polls the screen (bounded) until `pattern` shows; returns the screen. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

async function tmux(socket: string, args: string[]): Promise<string> {
  const proc = Bun.spawn(["tmux", "-L", socket, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`tmux ${args[0]} failed (${code}): ${err}`);
  return out;
}

/** Single quotes for sh: the command line handed to tmux. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs `argv` in a new 200×50 terminal. When it ends the screen shows `EXIT=<status>` and
 * stays up (a sleep keeps the pane) until close(). The environment is exactly `env`
 * plus PATH and HOME, so nothing like SIS_PASSWORD leaks in from the test runner.
 */
export async function openTerminal(argv: string[], env: Record<string, string> = {}): Promise<Terminal> {
  const id = `sis-h1-${randomBytes(6).toString("hex")}`;
  const vars = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", TERM: "xterm", ...env };
  const command = `env -i ${Object.entries(vars).map(([k, v]) => shellQuote(`${k}=${v}`)).join(" ")} ${argv.map(shellQuote).join(" ")}; echo EXIT=$?; exec sleep 3600`;
  await tmux(id, ["new-session", "-d", "-s", id, "-x", "200", "-y", "50", command]);
  const screen = () => tmux(id, ["capture-pane", "-p", "-J", "-t", id]);
  const socket = (await tmux(id, ["display-message", "-p", "#{socket_path}"]).catch(() => "")).trim();
  const close = async () => {
    await tmux(id, ["kill-server"]).catch(() => {});
    // tmux leaves its socket file behind.
    rmSync(socket || join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, id), { force: true });
  };
  return {
    screen,
    async type(text) {
      await tmux(id, ["send-keys", "-t", id, "-l", text]);
      await tmux(id, ["send-keys", "-t", id, "Enter"]);
    },
    async press(key) {
      await tmux(id, ["send-keys", "-t", id, key]);
    },
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`);
        await Bun.sleep(100);
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
