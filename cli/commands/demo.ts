/** sis demo: placeholder until the narrated demo lands. */
export async function demo(_args: string[]): Promise<number> {
  process.stderr.write("sis: cannot run demo: not built yet\n");
  return 1;
}
