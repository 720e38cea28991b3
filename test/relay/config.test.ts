// Relay configuration: defaults (spec/protocol.md §8), precedence flags > env > file > defaults,
// and clear errors for bad values.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  CONFIG_KEYS, ConfigError, DEFAULT_CONFIG, helpText, mergeConfig, parseArgs, resolveConfig, settingsFromEnv, settingsFromFile,
} from '../../src/relay/config.js';
import { repoPath } from '../_support/files.js';

const MiB = 1024 * 1024;

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

test('defaults are the spec §8 values', () => {
  const d = DEFAULT_CONFIG;
  assert.equal(
    [d.maxFrameBytes, d.privateMaxEnvelopes, d.privateMaxBytes, d.publicMaxEnvelopes, d.publicMaxBytes],
    [66_560, 1_000, 16 * MiB, 100, 1 * MiB],
  );
  assert.equal([d.maxSubscriptionsPerConnection, d.maxAuthPerConnection, d.maxConnections, d.maxConnectionsPerAddress], [1_024, 4_096, 20_000, 1_000]);
  assert.equal([d.sendRatePerSecond, d.sendBurst, d.deliveryWindow, d.maxBufferedBytes], [2_000, 4_000, 128, 8 * MiB]);
  assert.equal([d.idleTimeoutSeconds, d.pingIntervalSeconds, d.helloTimeoutSeconds, d.powDifficulty], [120, 30, 10, 18]);
  assert.equal([d.defaultTtlSeconds, d.minTtlSeconds, d.maxTtlSeconds], [21 * 86_400, 60, 30 * 86_400]);
  assert.equal([d.host, d.port, d.dataDir, d.metricsHost, d.metricsPort, d.logFile], ['0.0.0.0', 8787, './sealpost-data', '127.0.0.1', 9787, null]);
  assert.is(d.tlsCert, undefined);
  assert.is(d.cryptoWorkers, 0, 'crypto on the event loop unless asked (spec/protocol.md §12)');
  assert.is(d.diskReserveBytes, 64 * MiB, 'spec §8, §11.6');
  assert.equal(mergeConfig(), DEFAULT_CONFIG);
});

test('cryptoWorkers: "auto" or 0 to 64, from flags, env and file', () => {
  assert.is(resolveConfig({ argv: ['--crypto-workers', 'auto'], env: {} }).config.cryptoWorkers, 'auto');
  assert.is(resolveConfig({ argv: [], env: { SEALPOST_CRYPTO_WORKERS: '3' } }).config.cryptoWorkers, 3);
  assert.is(resolveConfig({ argv: ['--config', 'f'], env: {}, readFile: () => '{"cryptoWorkers": 2}' }).config.cryptoWorkers, 2);
  for (const bad of ['-1', '65', '1.5', 'many', '']) {
    assert.match(configError(() => resolveConfig({ argv: [`--crypto-workers=${bad}`], env: {} })), 'crypto-workers', bad);
  }
});

test('peers: --peer repeats, --peers and SEALPOST_PEERS split on commas, the file takes an array; a malformed address is refused', () => {
  const a = `sealpost+ws://${'A'.repeat(43)}@a.example:443`;
  const b = `sealpost+wss://${'B'.repeat(43)}@[::1]:8787`;
  assert.equal(resolveConfig({ argv: ['--peer', a, '--peer', b], env: {} }).config.peers, [a, b]);
  assert.equal(resolveConfig({ argv: [`--peers=${a},${b}`], env: {} }).config.peers, [a, b]);
  assert.equal(resolveConfig({ argv: [], env: { SEALPOST_PEERS: `${a}, ${b}` } }).config.peers, [a, b]);
  assert.equal(resolveConfig({ argv: ['--config', 'f'], env: {}, readFile: () => JSON.stringify({ peers: [a] }) }).config.peers, [a]);
  assert.equal(resolveConfig({ argv: [], env: {} }).config.peers, []);
  for (const bad of ['relay.example:443', `sealpost+ws://${'A'.repeat(42)}@h:1`, 'sealpost+http://x@h:1']) {
    assert.match(configError(() => resolveConfig({ argv: ['--peer', bad], env: {} })), 'peer', bad);
  }
});

test('every setting is in the README configuration table and in --help', () => {
  const readme = readFileSync(repoPath('README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| setting (config key)'), readme.indexOf('Flags are the kebab-case'));
  for (const s of CONFIG_KEYS) {
    assert.ok(table.includes('`' + s.key + '`'), `README lists ${s.key}`);
    assert.ok(helpText().includes(`--${s.flag}`), `--help lists ${s.key}`);
  }
});

test('precedence: flags > env > config file > defaults', () => {
  const file = JSON.stringify({ port: 1111, host: '10.0.0.1', dataDir: '/file', powDifficulty: 20, deliveryWindow: 64 });
  const env = { SEALPOST_PORT: '2222', SEALPOST_HOST: '10.0.0.2', SEALPOST_CONFIG: '/etc/sealpost.json', SEALPOST_POW_DIFFICULTY: '22' };
  const argv = ['--port', '3333', '--data=/flag'];
  const r = resolveConfig({ argv, env, readFile: (p) => { assert.is(p, '/etc/sealpost.json'); return file; } });
  assert.is(r.config.port, 3333, 'flag beats env and file');
  assert.is(r.config.dataDir, '/flag', 'flag beats file');
  assert.is(r.config.host, '10.0.0.2', 'env beats file');
  assert.is(r.config.powDifficulty, 22, 'env beats file');
  assert.is(r.config.deliveryWindow, 64, 'file beats default');
  assert.is(r.config.maxConnections, DEFAULT_CONFIG.maxConnections, 'default');
  assert.is(r.configFile, '/etc/sealpost.json');
  // --config on the command line wins over SEALPOST_CONFIG.
  const r2 = resolveConfig({ argv: ['--config', '/other.json'], env, readFile: (p) => (p === '/other.json' ? '{"port": 4444}' : '{}') });
  assert.is(r2.config.port, 2222, 'env still beats the file');
  assert.is(r2.configFile, '/other.json');
});

test('every key has a flag, an env var and a file key', () => {
  const env: Record<string, string> = {};
  const flags: string[] = [];
  const file: Record<string, unknown> = {};
  for (const s of CONFIG_KEYS) {
    assert.match(s.env, /^SEALPOST_[A-Z_]+$/);
    assert.ok(helpText().includes(`--${s.flag}`) && helpText().includes(s.env), `help lists ${s.key}`);
    const v = s.key === 'logLevel' ? 'warn' : s.key === 'logFile' ? '/var/log/sp.log' : s.key.startsWith('tls') ? '/tls.pem'
      : ['host', 'dataDir', 'metricsHost'].includes(s.key) ? 'x' : s.key.endsWith('TtlSeconds') ? '600'
      : s.kind.t === 'url|null' ? 'postgres://db.example/sealpost'
      : s.kind.t === 'peers' ? `sealpost+ws://${'A'.repeat(43)}@relay.example:443`
      : s.kind.t === 'key?' ? 'A'.repeat(43) : s.kind.t === 'path?' ? '/etc/sealpost/file'
      : s.kind.t === 'int' ? String(Math.max(7, s.kind.min)) : '7';
    env[s.env] = v;
    flags.push(`--${s.flag}`, v);
    file[s.key] = v;
  }
  assert.equal(Object.keys(settingsFromEnv(env)).sort(), CONFIG_KEYS.map((s) => s.key).sort());
  assert.equal(Object.keys(parseArgs(flags).settings).sort(), CONFIG_KEYS.map((s) => s.key).sort());
  assert.equal(Object.keys(settingsFromFile(JSON.stringify(file))).sort(), CONFIG_KEYS.map((s) => s.key).sort());
  const c = mergeConfig(settingsFromEnv(env));
  assert.is(c.logLevel, 'warn');
  assert.is(c.maxConnections, 7);
  assert.is(c.tlsKey, '/tls.pem');
  assert.is(settingsFromEnv({ SEALPOST_DATA: '/d' }).dataDir, '/d');
  assert.is(settingsFromEnv({ SEALPOST_DATA_DIR: '/d2' }).dataDir, '/d2');
});

test('special values: metrics off, log to stderr, port 0', () => {
  assert.is(mergeConfig(parseArgs(['--metrics-port', 'off']).settings).metricsPort, null);
  assert.is(mergeConfig(settingsFromFile('{"metricsPort": null}')).metricsPort, null);
  assert.is(mergeConfig(parseArgs(['--log-file', '-']).settings).logFile, null);
  assert.is(mergeConfig(parseArgs(['--port', '0']).settings).port, 0);
  assert.is(mergeConfig(parseArgs(['--idle-timeout-seconds', '0.5']).settings).idleTimeoutSeconds, 0.5);
  assert.is(mergeConfig(settingsFromEnv({ SEALPOST_MAX_CONNECTIONS: '5_000' })).maxConnections, 5000);
});

test('bad values give clear errors naming their source', () => {
  assert.match(configError(() => parseArgs(['--port', 'abc'])), /--port: expected a port number in \[0, 65535\], got "abc"/);
  assert.match(configError(() => parseArgs(['--port', '70000'])), /--port/);
  assert.match(configError(() => settingsFromEnv({ SEALPOST_SEND_BURST: '-3' })), /SEALPOST_SEND_BURST: expected an integer/);
  assert.match(configError(() => settingsFromEnv({ SEALPOST_POW_DIFFICULTY: '41' })), /SEALPOST_POW_DIFFICULTY: expected an integer in \[0, 40\]/);
  assert.match(configError(() => settingsFromFile('{"deliveryWindow": 1.5}')), /config file key "deliveryWindow"/);
  assert.match(configError(() => settingsFromFile('{"logLevel": "loud"}')), /one of debug, info, warn, error/);
  assert.match(configError(() => settingsFromFile('{"nope": 1}', 'relay.json')), /relay.json: unknown key "nope"/);
  assert.match(configError(() => settingsFromFile('{port: 1}', 'relay.json')), /relay.json: not valid JSON/);
  assert.match(configError(() => settingsFromFile('[1]')), /expected a JSON object/);
  assert.match(configError(() => parseArgs(['--bogus', '1'])), /unknown option --bogus/);
  assert.match(configError(() => parseArgs(['--port'])), /--port needs a value/);
  assert.match(configError(() => mergeConfig({ minTtlSeconds: 100, maxTtlSeconds: 50, defaultTtlSeconds: 60 })), /minTtlSeconds \(100\) exceeds maxTtlSeconds \(50\)/);
  assert.match(configError(() => mergeConfig({ defaultTtlSeconds: 10 })), /defaultTtlSeconds \(10\) must be within/);
  assert.match(configError(() => mergeConfig({ tlsCert: '/c.pem' })), /tlsCert and tlsKey go together/);
  assert.match(configError(() => mergeConfig({ policyFile: '/p.bin' })), /closed relay needs policyFile, orgPublicKey and epochSecretsFile together/);
  assert.match(configError(() => parseArgs(['--org-public-key', 'short'])), /--org-public-key: expected a 32-byte key in unpadded base64url/);
  assert.match(configError(() => mergeConfig({ port: -1 })), /option port/);
  assert.match(configError(() => resolveConfig({ argv: ['--config', '/missing.json'], env: {}, readFile: () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); } })),
    /cannot read config file \/missing.json: ENOENT/);
});

test('--help resolves without validating the rest', () => {
  const r = resolveConfig({ argv: ['--help'], env: {} });
  assert.ok(r.help);
  assert.match(helpText(), /flags > environment > config file > defaults/);
  assert.match(helpText(), /SEALPOST_METRICS_PORT/);
});

test.run();
