/**
 * The passt command, built as the bundle dist/app.cjs that cli.ts starts.
 * launcher.ts decides whether this process does the work itself (-f) or
 * starts a detached one that does; network.ts is the work.
 */
import { main } from "./launcher.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`passt: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
