// The relay's allow-list of partner relays (spec/federation.md §1): fingerprints from several
// sources (the config's addresses; later the organisation's signed policy, whose
// `partnerRelays` are fingerprints only). A relay accepts links from any listed fingerprint
// and dials those whose address it knows. Removing a fingerprint closes its links.
import { fromBase64url, toBase64url } from '../../crypto/index.js';
import { parseRelayAddress, type RelayAddress } from '../../wire/address.js';

export interface Partner { readonly fingerprint: string; readonly address: RelayAddress | null }

export class PartnerList {
  /** Per source: fingerprint (base64url, as in addresses) → its address, when the source has one. */
  private readonly sources = new Map<string, Map<string, RelayAddress | null>>();
  private readonly removedListeners: Array<(fingerprint: string) => void> = [];

  /** From relay addresses (the config's `peers`); throws AddressError for a malformed one. */
  static fromAddresses(addresses: readonly string[]): PartnerList {
    const list = new PartnerList();
    list.setAddresses('config', addresses.map((a) => parseRelayAddress(a)));
    return list;
  }

  setAddresses(source: string, addresses: readonly RelayAddress[]): void {
    this.replace(source, new Map(addresses.map((a) => [toBase64url(a.fingerprint), a])));
  }

  /** Fingerprints without addresses (base64url, 43 characters), e.g. a policy's partnerRelays. */
  setFingerprints(source: string, fingerprints: readonly string[]): void {
    for (const fp of fingerprints) if (fromBase64url(fp).length !== 32) throw new RangeError('a relay fingerprint is 32 bytes');
    this.replace(source, new Map(fingerprints.map((fp) => [fp, null])));
  }

  private replace(source: string, next: Map<string, RelayAddress | null>): void {
    const before = new Set(this.fingerprints());
    this.sources.set(source, next);
    const after = new Set(this.fingerprints());
    for (const fp of before) if (!after.has(fp)) for (const l of this.removedListeners) l(fp);
  }

  onRemoved(listener: (fingerprint: string) => void): void {
    this.removedListeners.push(listener);
  }

  allows(fingerprint: string): boolean {
    for (const s of this.sources.values()) if (s.has(fingerprint)) return true;
    return false;
  }

  /** Where to dial a partner; null when no source gave an address (it may still dial us). */
  addressOf(fingerprint: string): RelayAddress | null {
    for (const s of this.sources.values()) {
      const a = s.get(fingerprint);
      if (a) return a;
    }
    return null;
  }

  fingerprints(): string[] {
    const all = new Set<string>();
    for (const s of this.sources.values()) for (const fp of s.keys()) all.add(fp);
    return [...all];
  }

  get size(): number { return this.fingerprints().length; }
}
