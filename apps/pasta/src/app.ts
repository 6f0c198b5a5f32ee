/**
 * The pasta command, built as the bundle dist/app.cjs that cli.ts starts.
 * See launcher.ts for how the work is split between the process a user
 * starts and the one that does the networking.
 */
import { main } from "./launcher.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pasta: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
