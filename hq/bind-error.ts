// The HQ could not listen where the config says (a port in use, an address not on this machine):
// the test could not run, which is not a bug in oct. The message names the config key.
export class CouldNotBindError extends Error {
  constructor(
    readonly key: string,
    readonly address: string,
    cause: unknown,
  ) {
    super(`could not listen on ${address} (${key}): ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'CouldNotBindError';
  }
}
