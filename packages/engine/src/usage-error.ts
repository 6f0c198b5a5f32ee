/** A command-line mistake: printed as one line, exit status 1, nothing started. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
