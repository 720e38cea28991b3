// `client.devices`: the account's devices (spec/devices.md §2, §3, §6), a thin front.
import type { ClientContext } from './context.js';
import { listDevices } from './devices.js';
import { revokeDevice } from './device-sync.js';
import { startLink, type LinkAttempt } from './link.js';
import type { Device } from './types.js';

export class Devices {
  constructor(private readonly ctx: ClientContext) {}

  /** The devices of this account, as its signed list says. */
  list(): Device[] { return listDevices(this.ctx); }

  /**
   * Starts linking a new device (spec/devices.md §3). Only this call starts a link: show
   * `code` to the person, who types it on the new device, then types the new device's
   * confirmation code into `confirm`.
   */
  link(): Promise<LinkAttempt> { return startLink(this.ctx); }

  /** Removes a device from the account (any device may remove any other): spec/devices.md §6. */
  revoke(deviceId: string): Promise<void> { return revokeDevice(this.ctx, deviceId); }
}
