import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { generateKeys, KEY_FILES, writeKeysDir } from '../../common/keys-dir.ts';

interface Args {
  dir: string;
  force: boolean;
}

export const keysCommand: CommandModule<object, Args> = {
  command: 'keys <dir>',
  describe: 'Generate CURVE keys: the HQ keypair and a turret keypair the HQ trusts (hq.key, hq.pub, turret.key, turret.pub)',
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'Folder to write the keys to (created)' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace keys already there (turrets holding the old ones are refused)' })
      .example('$0 keys demo/keys', 'then set "keys_dir": "keys" in demo/config.json; oct pack-turrets packs hq.pub and turret.key')
      .epilog(
        `The HQ needs ${KEY_FILES.hqSecret} and trusts ${KEY_FILES.turretPublic} and ${KEY_FILES.trustedDir}/*.pub; a turret needs ${KEY_FILES.hqPublic} and ${KEY_FILES.turretSecret}. Keep the .key files secret (they are written mode 0600). Keys are Z85 text, as libzmq's curve_keygen prints them.`,
      ),
  handler: (args) => {
    const dir = resolve(args.dir);
    const existing = [KEY_FILES.hqSecret, KEY_FILES.turretSecret].filter((f) => existsSync(join(dir, f)));
    if (existing.length && !args.force) {
      process.stderr.write(`oct: ${dir} already holds ${existing.join(', ')}; --force replaces them (turrets with the old keys are then refused)\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    const files = writeKeysDir(dir, generateKeys());
    process.stdout.write(
      `wrote\n${files.map((f) => `  ${f}`).join('\n')}\n\nnext: set "keys_dir": "${args.dir}" in the project's config.json (relative to it)\n`,
    );
  },
};
