/** The one-line form of an error (`sis: cannot …: reason`) and its exit code. */
import { ClientError } from "../src/client/errors.ts";
import { UsageError } from "./args.ts";

/** `command` is what was being done, e.g. "post" or "post a.jpg": it opens a message that does not say. */
export function errorLine(command: string, error: unknown): { line: string; exitCode: number } {
  if (error instanceof UsageError) {
    const name = command.split(" ")[0];
    return { line: `sis: cannot run ${name}: ${error.message}; see 'sis ${name} --help'\n`, exitCode: 2 };
  }
  if (error instanceof ClientError) {
    const code = "code" in error ? ` (${String((error as { code: unknown }).code)})` : "";
    const text = error.message.startsWith("cannot ") ? error.message : `cannot ${command}: ${error.message}`;
    return { line: `sis: ${text}${code}\n`, exitCode: error.exitCode };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `sis: cannot ${command}: ${message}\n`, exitCode: 1 };
}
