// Counts and limits TCP connections from accept, before the WebSocket upgrade (spec/protocol.md
// §2, §8): a socket that never upgrades holds a file descriptor as surely as a client does.
//
// - In all at most `maxSockets` (maxConnections, lowered below the file limit) and at most
//   `perAddress` from one address group (an IPv4 address or an IPv6 /64).
// - Over a limit, a socket is still upgraded and closed with 4008 (so a client learns why) while
//   fewer than REFUSAL_SLOTS are being refused; beyond that it is destroyed at accept.
// - A socket that has not completed its upgrade within `upgradeTimeoutMs` is destroyed.
// - Refusals are logged once per episode (a minute at most), with counts and no addresses.
import type { Socket } from 'node:net';
import { addressGroup } from './address-group.js';
import type { Logger } from './log.js';

/** Over-limit sockets answered 4008 at a time; more are dropped at accept. */
export const REFUSAL_SLOTS = 64;
const LOG_EVERY_MS = 60_000;

export interface SocketGateLimits { maxSockets: number; perAddress: number; upgradeTimeoutMs: number }
export interface SocketGateMetrics { sockets(n: number): void; rejected(limit: 'total' | 'address'): void; upgradeTimeout(): void }

interface Entry { readonly group: string; readonly refused: boolean; timer: NodeJS.Timeout | null }

export class SocketGate {
  private readonly entries = new WeakMap<Socket, Entry>();
  private readonly perGroup = new Map<string, number>(); // in memory only, never logged
  private counted = 0;
  private refusing = 0;
  private refusedSinceLog = { total: 0, address: 0, dropped: 0 };
  private lastLog = -Infinity;

  constructor(private readonly limits: SocketGateLimits, private readonly metrics: SocketGateMetrics, private readonly log: Logger) {}

  /** Open sockets counted against the limits (upgraded or not). */
  get open(): number { return this.counted; }

  /** A TCP connection was accepted. */
  accepted(socket: Socket): void {
    const group = addressGroup(socket.remoteAddress);
    const n = this.perGroup.get(group) ?? 0;
    const over = this.counted >= this.limits.maxSockets ? 'total' : n >= this.limits.perAddress ? 'address' : null;
    if (over !== null) {
      this.metrics.rejected(over);
      this.refusedSinceLog[over]++;
      if (this.refusing >= REFUSAL_SLOTS) {
        this.refusedSinceLog.dropped++;
        this.noteRefusals();
        socket.destroy();
        return;
      }
      this.noteRefusals();
      this.refusing++;
    } else {
      this.counted++;
      this.perGroup.set(group, n + 1);
      this.metrics.sockets(this.counted);
    }
    const entry: Entry = { group, refused: over !== null, timer: null };
    entry.timer = setTimeout(() => {
      entry.timer = null;
      this.metrics.upgradeTimeout();
      socket.destroy();
    }, this.limits.upgradeTimeoutMs);
    this.entries.set(socket, entry);
    socket.once('close', () => this.closed(socket, entry));
  }

  /**
   * The upgrade request arrived on `socket`: stops its timer. False if it was accepted over a
   * limit (answer 4008 after the upgrade); undefined if the gate does not know it.
   */
  upgrading(socket: Socket): boolean | undefined {
    const entry = this.entryOf(socket);
    if (!entry) return undefined;
    if (entry.timer) { clearTimeout(entry.timer); entry.timer = null; }
    return !entry.refused;
  }

  private entryOf(socket: Socket): Entry | undefined {
    // Behind TLS the upgrade comes on the TLSSocket that wraps the accepted one.
    return this.entries.get(socket) ?? this.entries.get((socket as unknown as { _parent?: Socket })._parent as Socket);
  }

  private closed(_socket: Socket, entry: Entry): void {
    if (entry.timer) { clearTimeout(entry.timer); entry.timer = null; }
    if (entry.refused) { this.refusing--; return; }
    this.counted--;
    const n = (this.perGroup.get(entry.group) ?? 1) - 1;
    if (n <= 0) this.perGroup.delete(entry.group);
    else this.perGroup.set(entry.group, n);
    this.metrics.sockets(this.counted);
  }

  private noteRefusals(): void {
    const now = performance.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    this.lastLog = now;
    this.log.warn('connections_refused', { ...this.refusedSinceLog, open: this.counted, maxSockets: this.limits.maxSockets, perAddress: this.limits.perAddress });
    this.refusedSinceLog = { total: 0, address: 0, dropped: 0 };
  }
}
