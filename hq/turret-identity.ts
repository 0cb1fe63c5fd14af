// Under CURVE a turret's identity is its key. ZeroMQ's PULL socket does not say which connection
// a message came on (libzmq's per-message "User-Id" property is not exposed by zeromq.js, and the
// ZAP request carries the server's routing id, not the client's), so every message of an oct turret
// carries its public key and a proof only that key's holder can make for the uuid it speaks for
// (protocol/curve-key.ts). A uuid belongs to the first key that proves it; a message for that uuid
// under any other key, or with no proof, is refused. Proofs travel only inside CURVE, so another
// key holder cannot read one to replay it.
import type { Credentials } from '../protocol/incoming.ts';
import { proofWith, sameProof, sharedSecret, z85Decode } from '../protocol/curve-key.ts';
import type { HqKeys } from '../common/keys-dir.ts';

export type IdentityRefusal = 'no_credentials' | 'untrusted_key' | 'bad_proof' | 'other_turret';

const REFUSALS: Record<IdentityRefusal, string> = {
  no_credentials: 'no turret_key and proof (a legacy or plaintext sender; see allow_plaintext)',
  untrusted_key: 'a turret key the HQ does not trust',
  bad_proof: 'a proof that does not match its key and uuid',
  other_turret: "a uuid that belongs to another turret's key",
};

export function describeRefusal(r: IdentityRefusal): string {
  return REFUSALS[r];
}

export class TurretIdentity {
  /** Z85 public key → the secret it shares with the HQ's key. */
  private readonly shared = new Map<string, Buffer>();
  /** uuid → the key that proved it first, and its proof (so later messages cost a compare). */
  private readonly owners = new Map<string, Credentials>();

  constructor(keys: HqKeys) {
    const hqSecret = z85Decode(keys.hq.secretKey)!;
    for (const key of keys.trusted) this.shared.set(key, sharedSecret(hqSecret, z85Decode(key)!));
  }

  /** Null when the message may speak for `uuid`, else why not. */
  check(uuid: string | null, auth: Credentials | null): IdentityRefusal | null {
    if (uuid === null || auth === null) return 'no_credentials';
    const owner = this.owners.get(uuid);
    if (owner) {
      if (owner.key !== auth.key) return this.shared.has(auth.key) ? 'other_turret' : 'untrusted_key';
      return owner.proof === auth.proof ? null : 'bad_proof';
    }
    const shared = this.shared.get(auth.key);
    if (!shared) return 'untrusted_key';
    if (!sameProof(proofWith(shared, uuid), auth.proof)) return 'bad_proof';
    this.owners.set(uuid, auth);
    return null;
  }

  /** The key a uuid is bound to (for tests and the log). */
  ownerOf(uuid: string): string | null {
    return this.owners.get(uuid)?.key ?? null;
  }
}
