// The account's signed, versioned device list (spec/devices.md §2). Pure codec.
//
//   list      = version[1]=1 || account[32] || serial[4] || prev[32] || count[1]
//               || (device[64] || addedAt[8]) * count || signature[64]
//   signature = Ed25519(accountSeed, "sealpost/v1/device-list" || list without signature)
//   prev      = H("sealpost/v1/device-list-hash" || previous list), zero for serial 1
//
// `account` is the account's Ed25519 key; `device` a device identity (spec/client.md §1,
// Ed25519 || X25519). Each serial names the hash of the one before, so that two lists of one
// serial, or a list whose `prev` is not the list it follows, are a fork (§2.2).
import { compareBytes, concat, ed25519PublicKey, ed25519Sign, ed25519Verify, equalBytes, sha256, utf8, x25519PublicKey, type Ed25519Seed } from '../crypto/index.js';
import { MalformedError, Reader, Writer } from '../wire/bytes-codec.js';
import { dhKeyOf, IDENTITY_PUBLIC_LENGTH, signingKeyOf } from './identity.js';

export const DEVICE_LIST_VERSION = 1;
/** No list holds more (a policy may set a lower cap, spec/devices.md §6). */
export const MAX_DEVICES = 16;
const LABEL = utf8('sealpost/v1/device-list');
const HASH_LABEL = utf8('sealpost/v1/device-list-hash');

export interface DeviceEntry {
  readonly device: Uint8Array;
  /** ms since the epoch, the certifying device's clock. */
  readonly addedAt: number;
}

export interface DeviceList {
  readonly account: Uint8Array;
  readonly serial: number;
  readonly prev: Uint8Array;
  readonly devices: readonly DeviceEntry[];
  /** The signed encoding, as received or made. */
  readonly bytes: Uint8Array;
}

export const listHash = (bytes: Uint8Array): Uint8Array => sha256(concat(HASH_LABEL, bytes));

/** Signs the next list: `previous` (null for the first) with `devices` in its place. */
export function signDeviceList(accountSeed: Ed25519Seed, account: Uint8Array, previous: DeviceList | null, devices: readonly DeviceEntry[]): DeviceList {
  if (devices.length < 1 || devices.length > MAX_DEVICES) throw new RangeError(`a device list holds 1 .. ${MAX_DEVICES} devices`);
  const serial = previous ? previous.serial + 1 : 1;
  const prev = previous ? listHash(previous.bytes) : new Uint8Array(32);
  const w = new Writer().u8(DEVICE_LIST_VERSION).bytes(account, 32).u32(serial).bytes(prev, 32).u8(devices.length);
  for (const d of devices) w.bytes(d.device, IDENTITY_PUBLIC_LENGTH).u64(d.addedAt);
  const unsigned = w.finish();
  const bytes = concat(unsigned, ed25519Sign(accountSeed, concat(LABEL, unsigned)));
  return { account, serial, prev, devices, bytes };
}

/**
 * Decodes and verifies a list; MalformedError for a bad layout, a key that is not a valid
 * point, a device twice, or a signature that does not verify under the list's own account.
 * The caller checks that the account is the one it expects.
 */
export function decodeDeviceList(bytes: Uint8Array): DeviceList {
  if (bytes.length < 1 + 32 + 4 + 32 + 1 + 64) throw new MalformedError('device list too short');
  const unsigned = bytes.subarray(0, bytes.length - 64);
  const r = new Reader(unsigned);
  if (r.u8() !== DEVICE_LIST_VERSION) throw new MalformedError('unknown device list version');
  const account = r.bytes(32).slice();
  const serial = r.u32();
  const prev = r.bytes(32).slice();
  const count = r.u8();
  if (serial < 1 || count < 1 || count > MAX_DEVICES) throw new MalformedError('device list out of range');
  const devices: DeviceEntry[] = [];
  for (let i = 0; i < count; i++) {
    const device = r.bytes(IDENTITY_PUBLIC_LENGTH).slice();
    const addedAt = r.u64();
    try { ed25519PublicKey(signingKeyOf(device)); x25519PublicKey(dhKeyOf(device)); } catch { throw new MalformedError('bad device key'); }
    if (devices.some((d) => equalBytes(d.device, device))) throw new MalformedError('a device listed twice');
    devices.push({ device, addedAt });
  }
  r.end();
  let ok = false;
  try { ok = ed25519Verify(bytes.subarray(bytes.length - 64), concat(LABEL, unsigned), ed25519PublicKey(account)); } catch { ok = false; }
  if (!ok) throw new MalformedError('device list signature does not verify');
  return { account, serial, prev, devices, bytes: bytes.slice() };
}

export type ListStep = 'newer' | 'same' | 'older' | 'fork-taken' | 'fork-kept';

/**
 * How `next` relates to the list held (spec/devices.md §2.2): a higher serial is newer (take
 * it), a lower one older (ignore it). Two lists of one serial are a fork, which every device
 * resolves the same way: the list with the smaller hash wins (`fork-taken` when it is `next`,
 * `fork-kept` when it is the one held).
 */
export function compareLists(held: DeviceList, next: DeviceList): ListStep {
  if (next.serial < held.serial) return 'older';
  if (next.serial > held.serial) return 'newer';
  if (equalBytes(next.bytes, held.bytes)) return 'same';
  return compareBytes(listHash(next.bytes), listHash(held.bytes)) < 0 ? 'fork-taken' : 'fork-kept';
}

export const hasDevice = (list: DeviceList, device: Uint8Array): boolean => list.devices.some((d) => equalBytes(d.device, device));
