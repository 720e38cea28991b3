// Relay configuration: the keys, their defaults (spec/protocol.md §8), and the pure logic that
// parses flags, environment variables and a JSON config file, merges them (flags > env >
// file > defaults) and validates the result. No I/O here: the caller reads the file.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RelayConfig {
  host: string;
  port: number;
  dataDir: string;
  metricsHost: string;
  metricsPort: number | null;
  tlsCert?: string;
  tlsKey?: string;
  maxFrameBytes: number;
  privateMaxEnvelopes: number;
  privateMaxBytes: number;
  publicMaxEnvelopes: number;
  publicMaxBytes: number;
  maxSubscriptionsPerConnection: number;
  maxAuthPerConnection: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  sendRatePerSecond: number;
  sendBurst: number;
  keyOpsPerSecond: number;
  keyOpsBurst: number;
  mailboxCreatesPerHour: number;
  mailboxCreateBurst: number;
  deliveryWindow: number;
  maxBufferedBytes: number;
  maxBufferedBytesTotal: number;
  maxAuthTotal: number;
  idleTimeoutSeconds: number;
  pingIntervalSeconds: number;
  helloTimeoutSeconds: number;
  upgradeTimeoutSeconds: number;
  powDifficulty: number;
  defaultTtlSeconds: number;
  minTtlSeconds: number;
  maxTtlSeconds: number;
  sweepIntervalSeconds: number;
  diskReserveBytes: number;
  logLevel: LogLevel;
  logFile: string | null;
  /** Worker threads for signature checks, SEND proofs, the delivery layer and forwarded SENDs' opens; 0 = the event loop. */
  cryptoWorkers: number | 'auto';
  /** Relay processes behind the one port, on the one store (spec/scale-out.md); "auto" = one per core. */
  processes: number | 'auto';
  /** PostgreSQL instead of the embedded LMDB store (spec/scale-out.md §6); null = LMDB. */
  postgresUrl: string | null;
  /** NATS servers the relay processes on PostgreSQL wake each other through. */
  natsUrl: string | null;
  /** Partner relays (spec/federation.md §1): addresses this relay forwards to and accepts links from. */
  peers: readonly string[];
  /** Links from partner relays open at once (one per partner; more are refused with LINK_LIMIT). */
  maxPeerLinks: number;
  /** How long a FORWARD waits for the destination relay's answer before PEER_DOWN. */
  forwardTimeoutSeconds: number;
  /** Closed relay (spec/admission.md §4.3): the organisation's signed policy file. Unset = an open relay. */
  policyFile?: string;
  /** Closed relay: the organisation's Ed25519 public key (base64url), which must sign the policy. */
  orgPublicKey?: string;
  /** Closed relay: the epoch secrets file shared with the issuer (spec/admission.md §7.4). */
  epochSecretsFile?: string;
}

export type ConfigKey = keyof RelayConfig;

const MiB = 1024 * 1024;
/** Most crypto worker threads (more only contend for the same cores). */
export const MAX_CRYPTO_WORKERS = 64;
/** Most relay processes (`--processes`). */
export const MAX_PROCESSES = 64;
const DAY = 86_400;

/** Defaults: spec/protocol.md §8, plus the operational keys it does not list. */
export const DEFAULT_CONFIG: RelayConfig = Object.freeze({
  host: '0.0.0.0',
  port: 8787,
  dataDir: './sealpost-data',
  metricsHost: '127.0.0.1',
  metricsPort: 9787,
  maxFrameBytes: 66_560,
  privateMaxEnvelopes: 1_000,
  privateMaxBytes: 16 * MiB,
  publicMaxEnvelopes: 100,
  publicMaxBytes: 1 * MiB,
  maxSubscriptionsPerConnection: 1_024,
  maxAuthPerConnection: 4_096,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 1_000,
  sendRatePerSecond: 2_000,
  sendBurst: 4_000,
  keyOpsPerSecond: 100,
  keyOpsBurst: 200,
  // Per address (IPv4 address or IPv6 /64): a client makes a mailbox per conversation, so 64 at
  // once and 64 an hour serve a new user and a busy NAT, while one address is held to about
  // 50,000 live mailboxes at the longest TTL (README "Storage and disk").
  mailboxCreatesPerHour: 64,
  mailboxCreateBurst: 64,
  deliveryWindow: 128,
  maxBufferedBytes: 8 * MiB,
  // 32 connections at their full 8 MiB: readers that keep up buffer next to nothing.
  maxBufferedBytesTotal: 256 * MiB,
  // About 400 bytes each (measured): at most ~200 MiB, 25 mailboxes a connection at maxConnections.
  maxAuthTotal: 500_000,
  idleTimeoutSeconds: 120,
  pingIntervalSeconds: 30,
  helloTimeoutSeconds: 10,
  // A browser or the SDK upgrades within one round trip; 5 s leaves room for slow links and
  // frees a descriptor held by a client that never upgrades (spec/protocol.md §2).
  upgradeTimeoutSeconds: 5,
  powDifficulty: 18,
  defaultTtlSeconds: 21 * DAY,
  minTtlSeconds: 60,
  maxTtlSeconds: 30 * DAY,
  sweepIntervalSeconds: 30,
  // Room for ACK, DEL and expiry to commit when the disk is otherwise full (a sweep batch of
  // 512 deletions copies a few MiB of pages); small next to any disk a relay runs on.
  diskReserveBytes: 64 * MiB,
  logLevel: 'info',
  logFile: null,
  // Measured on 2 cores, workers cost throughput (bench/README.md, spec/protocol.md §12).
  cryptoWorkers: 0,
  processes: 1,
  postgresUrl: null,
  natsUrl: null,
  peers: [],
  maxPeerLinks: 64,
  forwardTimeoutSeconds: 10,
}) as RelayConfig;

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind =
  | { t: 'string' }
  | { t: 'path?' } // optional file path (absent = unset)
  | { t: 'key?' } // optional 32-byte key in unpadded base64url (absent = unset)
  | { t: 'int'; min: number; max: number }
  | { t: 'seconds'; min: number; max: number } // may be fractional (tests use sub-second timeouts)
  | { t: 'port' }
  | { t: 'port|null' }
  | { t: 'level' }
  | { t: 'file|null' }
  | { t: 'workers' } // "auto" or an integer
  | { t: 'processes' } // "auto" or an integer from 1
  | { t: 'url|null' } // a URL with one of `schemes`, or none
  | { t: 'peers' }; // relay addresses: a flag repeated, comma-separated, or a JSON array

interface KeySpec { key: ConfigKey; kind: Kind; flag: string; env: string; help: string; aliases?: { flags?: string[]; env?: string[] } }

const INT_MAX = 2 ** 31 - 1;
/** The shape of a relay address (spec/protocol.md §1); the federation module parses it fully. */
const ADDRESS_SHAPE = /^sealpost\+wss?:\/\/[A-Za-z0-9_-]{43}@\S+:\d{1,5}\/?$/;
const int = (min: number, max: number = INT_MAX): Kind => ({ t: 'int', min, max });
const secs = (min: number, max: number = 365 * DAY): Kind => ({ t: 'seconds', min, max });

const kebab = (k: string): string => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const snake = (k: string): string => 'SEALPOST_' + k.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

function spec(key: ConfigKey, kind: Kind, help: string, aliases?: { flags?: string[]; env?: string[] }, flag = kebab(key), env = snake(key)): KeySpec {
  return aliases ? { key, kind, flag, env, help, aliases } : { key, kind, flag, env, help };
}

/** Every key, in the order `--help` lists them. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  spec('host', { t: 'string' }, 'address to bind the WebSocket listener to'),
  spec('port', { t: 'port' }, 'WebSocket port (0 = any free port)'),
  spec('dataDir', { t: 'string' }, 'data directory: LMDB store and relay identity', { flags: ['data-dir'], env: ['SEALPOST_DATA_DIR'] }, 'data', 'SEALPOST_DATA'),
  spec('metricsHost', { t: 'string' }, 'address of the metrics listener (/metrics, /healthz)'),
  spec('metricsPort', { t: 'port|null' }, 'metrics port (0 = any free port, "off" = no metrics listener)'),
  spec('tlsCert', { t: 'path?' }, 'PEM certificate file: serve wss:// (needs --tls-key)'),
  spec('tlsKey', { t: 'path?' }, 'PEM private key file for --tls-cert'),
  spec('maxFrameBytes', int(512, 16 * MiB), 'largest frame accepted; larger closes with 1009'),
  spec('privateMaxEnvelopes', int(1), 'private mailbox quota: envelopes'),
  spec('privateMaxBytes', int(256), 'private mailbox quota: bytes (sum of envelope sizes)'),
  spec('publicMaxEnvelopes', int(1), 'public mailbox quota: envelopes'),
  spec('publicMaxBytes', int(256), 'public mailbox quota: bytes'),
  spec('maxSubscriptionsPerConnection', int(1), 'subscriptions per connection'),
  spec('maxAuthPerConnection', int(1), 'authenticated mailboxes per connection'),
  spec('maxConnections', int(1), 'TCP connections in all, counted from accept (more close with 4008); lowered below the open-file limit'),
  spec('maxConnectionsPerAddress', int(1), 'TCP connections from one IPv4 address or IPv6 /64, counted from accept'),
  spec('sendRatePerSecond', int(1), 'SEND token bucket: sustained rate per connection'),
  spec('sendBurst', int(1), 'SEND token bucket: burst per connection'),
  spec('keyOpsPerSecond', int(1), 'CREATE/AUTH/ROTATE (a signature check each) token bucket: rate per connection'),
  spec('keyOpsBurst', int(1), 'CREATE/AUTH/ROTATE token bucket: burst per connection'),
  spec('mailboxCreatesPerHour', int(1), 'CREATE token bucket per address (IPv4 address or IPv6 /64): rate per hour'),
  spec('mailboxCreateBurst', int(1), 'CREATE token bucket per address: burst'),
  spec('deliveryWindow', int(1, 65_536), 'unacknowledged pushed envelopes per subscription'),
  spec('maxBufferedBytes', int(64 * 1024), 'outgoing bytes buffered per connection before closing it (4005)'),
  spec('maxBufferedBytesTotal', int(64 * 1024, 2 ** 40), 'outgoing bytes buffered by all connections; past it the largest are closed (4005)'),
  spec('maxAuthTotal', int(1), 'authenticated mailboxes summed over all connections; past it AUTH and CREATE answer BUSY'),
  spec('idleTimeoutSeconds', secs(0.05), 'close a connection silent for this long (4006)'),
  spec('pingIntervalSeconds', secs(0.05), 'WebSocket ping interval'),
  spec('helloTimeoutSeconds', secs(0.05), 'time allowed to complete HELLO (4006)'),
  spec('upgradeTimeoutSeconds', secs(0.05, 300), 'time from accept to a completed WebSocket upgrade; slower sockets are closed'),
  spec('powDifficulty', int(0, 40), 'proof-of-work for public mailboxes, in leading zero bits'),
  spec('defaultTtlSeconds', int(1, 10 * 365 * DAY), 'envelope time to live when CREATE asks for 0'),
  spec('minTtlSeconds', int(1, 10 * 365 * DAY), 'smallest envelope time to live'),
  spec('maxTtlSeconds', int(1, 10 * 365 * DAY), 'largest envelope time to live'),
  spec('sweepIntervalSeconds', secs(0.01, DAY), 'how often expired envelopes are deleted'),
  spec('diskReserveBytes', int(0, 2 ** 40), 'free disk space kept for ACK, DEL and expiry: writes that add data answer INTERNAL below it'),
  spec('logLevel', { t: 'level' }, 'debug | info | warn | error'),
  spec('logFile', { t: 'file|null' }, 'JSON-lines log file ("-" or "stderr" = standard error)'),
  spec('cryptoWorkers', { t: 'workers' }, `worker threads for signature checks, SEND proofs, the delivery layer and forwarded SENDs' opens (0 = on the event loop, "auto" = one per core, at most ${MAX_CRYPTO_WORKERS})`),
  spec('postgresUrl', { t: 'url|null' }, 'PostgreSQL store shared by relay processes on several machines (postgres://user@host:port/db); none = the embedded LMDB store'),
  spec('natsUrl', { t: 'url|null' }, 'NATS servers (nats://host:4222, comma-separated) through which relay processes on PostgreSQL wake each other'),
  spec('peers', { t: 'peers' }, 'a partner relay (sealpost+ws://FINGERPRINT@HOST:PORT): forward to it and accept its links (repeat the flag, or comma-separate)', { flags: ['peer'] }),
  spec('maxPeerLinks', int(1, 4_096), 'links from partner relays open at once'),
  spec('forwardTimeoutSeconds', secs(0.05, 300), 'how long a FORWARD waits for the destination relay before PEER_DOWN'),
  spec('policyFile', { t: 'path?' }, 'closed relay: the organisation\'s signed policy (spec/admission.md §5); needs --org-public-key and --epoch-secrets-file; reloaded on change and on SIGHUP'),
  spec('orgPublicKey', { t: 'key?' }, 'closed relay: the organisation\'s Ed25519 public key (base64url), which must sign the policy'),
  spec('epochSecretsFile', { t: 'path?' }, 'closed relay: the epoch secrets file shared with the issuer (mode 0600; spec/admission.md §7.4); reloaded on change and on SIGHUP'),
  spec('processes', { t: 'processes' }, `relay processes sharing the port, the identity and the LMDB store ("auto" = one per core, at most ${MAX_PROCESSES}); relay-wide bounds are split between them`),
];

/** Keys that may be unset (a closed relay's files, TLS). */
const optional = (s: KeySpec): boolean => s.kind.t === 'path?' || s.kind.t === 'key?';

const BY_KEY = new Map(CONFIG_KEYS.map((s) => [s.key, s]));
const BY_FLAG = new Map<string, KeySpec>();
for (const s of CONFIG_KEYS) {
  BY_FLAG.set(s.flag, s);
  for (const a of s.aliases?.flags ?? []) BY_FLAG.set(a, s);
}

export type Source = 'flag' | 'env' | 'file' | 'option';
const where = (s: KeySpec, source: Source): string =>
  source === 'flag' ? `--${s.flag}` : source === 'env' ? s.env : source === 'file' ? `config file key "${s.key}"` : `option ${s.key}`;

/** Converts one raw value (a string from flags/env, anything from JSON or code) to its typed value. */
export function coerceValue(key: ConfigKey, raw: unknown, source: Source = 'option'): RelayConfig[ConfigKey] | undefined {
  const s = BY_KEY.get(key);
  if (!s) throw new ConfigError(`unknown setting "${key}"`);
  const bad = (expected: string): never => {
    throw new ConfigError(`${where(s, source)}: expected ${expected}, got ${JSON.stringify(raw) ?? String(raw)}`);
  };
  const num = (): number => {
    if (typeof raw === 'number') return raw;
    if (typeof raw === 'string' && /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(raw)) return Number(raw);
    if (typeof raw === 'string' && /^\s*\d+(_\d{3})+\s*$/.test(raw)) return Number(raw.replace(/_/g, ''));
    return NaN;
  };
  const k = s.kind;
  switch (k.t) {
    case 'string':
      if (typeof raw !== 'string' || raw.trim() === '') return bad('a non-empty string');
      return raw.trim();
    case 'path?':
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw !== 'string') return bad('a file path');
      return raw;
    case 'key?':
      if (raw === undefined || raw === null || raw === '') return undefined;
      if (typeof raw !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(raw.trim())) return bad('a 32-byte key in unpadded base64url (43 characters)');
      return raw.trim();
    case 'level':
      if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
      return bad('one of debug, info, warn, error');
    case 'file|null':
      if (raw === null || raw === '' || raw === '-' || raw === 'stderr') return null;
      if (typeof raw !== 'string') return bad('a file path, or "-" for standard error');
      return raw;
    case 'port|null':
    case 'port': {
      if (k.t === 'port|null' && (raw === null || raw === 'off' || raw === 'none' || raw === 'null' || raw === 'false')) return null;
      const n = num();
      if (!Number.isInteger(n) || n < 0 || n > 65535) return bad(`a port number in [0, 65535]${k.t === 'port|null' ? ' or "off"' : ''}`);
      return n;
    }
    case 'int': {
      const n = num();
      if (!Number.isSafeInteger(n) || n < k.min || n > k.max) return bad(`an integer in [${k.min}, ${k.max}]`);
      return n;
    }
    case 'workers': {
      if (raw === 'auto') return raw;
      const n = num();
      if (!Number.isSafeInteger(n) || n < 0 || n > MAX_CRYPTO_WORKERS) return bad(`"auto" or an integer in [0, ${MAX_CRYPTO_WORKERS}]`);
      return n;
    }
    case 'url|null':
      if (raw === null || raw === '' || raw === 'none') return null;
      if (typeof raw !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(raw.trim())) return bad('a URL such as postgres://host/db or nats://host:4222');
      return raw.trim();
    case 'processes': {
      if (raw === 'auto') return raw;
      const n = num();
      if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PROCESSES) return bad(`"auto" or an integer in [1, ${MAX_PROCESSES}]`);
      return n;
    }
    case 'peers': {
      const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
      if (list === null || !list.every((a) => typeof a === 'string')) return bad('relay addresses (sealpost+ws://FINGERPRINT@HOST:PORT)');
      const addresses = (list as string[]).map((a) => a.trim()).filter((a) => a !== '');
      for (const a of addresses) if (!ADDRESS_SHAPE.test(a)) return bad('relay addresses (sealpost+ws://FINGERPRINT@HOST:PORT)');
      return addresses;
    }
    case 'seconds': {
      const n = num();
      if (!Number.isFinite(n) || n < k.min || n > k.max) return bad(`a number of seconds in [${k.min}, ${k.max}]`);
      return n;
    }
  }
}

export type RawSettings = Partial<Record<ConfigKey, unknown>>;

export interface ParsedArgs { settings: RawSettings; configFile?: string; help: boolean; rest: string[] }

/**
 * Parses `--key value`, `--key=value` and `--help`/`-h`. Flags are the kebab-case of the
 * config key (`--max-frame-bytes`); `--data` is the data directory; `--config FILE` names a
 * JSON config file. Unknown flags are an error.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const settings: RawSettings = {};
  let configFile: string | undefined;
  let help = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') { help = true; continue; }
    if (!arg.startsWith('--')) { rest.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new ConfigError(`--${name} needs a value`);
      value = next;
      i++;
    }
    if (name === 'config') { configFile = value; continue; }
    const s = BY_FLAG.get(name);
    if (!s) throw new ConfigError(`unknown option --${name} (see sealpost relay --help)`);
    const v = coerceValue(s.key, value, 'flag');
    // A list grows with each repetition of its flag (--peer A --peer B).
    settings[s.key] = s.kind.t === 'peers' ? [...((settings[s.key] as string[] | undefined) ?? []), ...(v as string[])] : v;
  }
  const out: ParsedArgs = { settings, help, rest };
  if (configFile !== undefined) out.configFile = configFile;
  return out;
}

/** Reads SEALPOST_* variables (one per key, SCREAMING_SNAKE of the key; SEALPOST_DATA for dataDir). */
export function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): RawSettings {
  const out: RawSettings = {};
  for (const s of CONFIG_KEYS) {
    for (const name of [...(s.aliases?.env ?? []), s.env]) {
      const v = env[name];
      if (v !== undefined && v !== '') out[s.key] = coerceValue(s.key, v, 'env');
    }
  }
  return out;
}

/** The config file is a JSON object whose keys are RelayConfig keys (camelCase). */
export function settingsFromFile(text: string, fileName = 'config file'): RawSettings {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${fileName}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${fileName}: expected a JSON object`);
  const out: RawSettings = {};
  for (const [k, v] of Object.entries(json)) {
    if (k.startsWith('$') || k.startsWith('//')) continue; // "$schema", comments
    if (!BY_KEY.has(k as ConfigKey)) throw new ConfigError(`${fileName}: unknown key "${k}"`);
    out[k as ConfigKey] = coerceValue(k as ConfigKey, v, 'file');
  }
  return out;
}

/** Cross-field checks on a complete config. Returns it, or throws ConfigError. */
export function validateConfig(c: RelayConfig): RelayConfig {
  for (const s of CONFIG_KEYS) {
    const v = c[s.key];
    if (v === undefined && !optional(s)) throw new ConfigError(`missing setting ${s.key}`);
    if (v !== undefined) coerceValue(s.key, v, 'option');
  }
  if (c.minTtlSeconds > c.maxTtlSeconds) throw new ConfigError(`minTtlSeconds (${c.minTtlSeconds}) exceeds maxTtlSeconds (${c.maxTtlSeconds})`);
  if (c.defaultTtlSeconds < c.minTtlSeconds || c.defaultTtlSeconds > c.maxTtlSeconds) {
    throw new ConfigError(`defaultTtlSeconds (${c.defaultTtlSeconds}) must be within [minTtlSeconds, maxTtlSeconds] = [${c.minTtlSeconds}, ${c.maxTtlSeconds}]`);
  }
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) throw new ConfigError('tlsCert and tlsKey go together: set both or neither');
  if (c.sendBurst < 1) throw new ConfigError('sendBurst must be at least 1');
  const closed = [c.policyFile, c.orgPublicKey, c.epochSecretsFile].filter((v) => v !== undefined).length;
  if (closed !== 0 && closed !== 3) throw new ConfigError('a closed relay needs policyFile, orgPublicKey and epochSecretsFile together (spec/admission.md §4.3)');
  return c;
}

/** Merges layers (later wins) over the defaults and validates: resolveConfig(file, env, flags). */
export function mergeConfig(...layers: RawSettings[]): RelayConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (!BY_KEY.has(k as ConfigKey)) throw new ConfigError(`unknown setting "${k}"`);
      if (v === undefined) {
        if (optional(BY_KEY.get(k as ConfigKey)!)) delete merged[k];
        continue;
      }
      merged[k] = v;
    }
  }
  return validateConfig(merged as unknown as RelayConfig);
}

export interface ResolveInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file named by --config or SEALPOST_CONFIG. */
  readFile?: (path: string) => string;
}

export interface Resolved { config: RelayConfig; help: boolean; configFile: string | null; rest: string[] }

/** The whole CLI resolution: flags > env > config file > defaults. */
export function resolveConfig(input: ResolveInput): Resolved {
  const args = parseArgs(input.argv);
  const envSettings = settingsFromEnv(input.env);
  const configFile = args.configFile ?? (input.env['SEALPOST_CONFIG'] || undefined) ?? null;
  let fileSettings: RawSettings = {};
  if (configFile !== null) {
    if (!input.readFile) throw new ConfigError('a config file was named but cannot be read here');
    let text: string;
    try {
      text = input.readFile(configFile);
    } catch (e) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    fileSettings = settingsFromFile(text, configFile);
  }
  if (args.help) return { config: { ...DEFAULT_CONFIG }, help: true, configFile, rest: args.rest };
  return { config: mergeConfig(fileSettings, envSettings, args.settings), help: false, configFile, rest: args.rest };
}

const showDefault = (k: ConfigKey): string => {
  const v = DEFAULT_CONFIG[k];
  if (v === undefined) return 'unset';
  if (v === null) return k === 'logFile' ? 'stderr' : 'off';
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.join(',');
  return String(v);
};

/** `sealpost relay --help`. */
export function helpText(): string {
  const entry = (flag: string, env: string, dflt: string, help: string): string =>
    `  ${flag.padEnd(38)} ${env.padEnd(42)} ${dflt}\n      ${help}`;
  return [
    'usage: sealpost relay [options]',
    '       sealpost relay backup --data DIR --to BACKUP_DIR',
    '',
    'Runs a Sealpost relay. Every setting comes from a flag, an environment variable or a key of',
    'a JSON config file (the camelCase name, e.g. {"maxConnections": 5000}). Precedence:',
    'flags > environment > config file > defaults.',
    '',
    `  ${'flag'.padEnd(38)} ${'environment'.padEnd(42)} default`,
    entry('--config FILE', 'SEALPOST_CONFIG', 'none', 'JSON config file'),
    ...CONFIG_KEYS.map((s) => entry(`--${s.flag} VALUE`, s.env, showDefault(s.key), s.help)),
    entry('--help', '', '', 'this text'),
    '',
    'SIGTERM or SIGINT drains (finishes in-flight commits, closes connections with 1001) and exits 0.',
  ].join('\n');
}
