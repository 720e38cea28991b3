// `sealpost admin`: the organisation's keys, epochs, policy, quota, counts and audit log
// (spec/admission.md §7.3). Every subcommand takes --org DIR, --json and --help; errors name
// their code (§8) and exit 1, usage errors exit 2.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAdmissionError, verifyPolicy } from '../admission/index.js';
import {
  createEpochKeys, initOrganisation, policyJson, rotateAdminKey, rotateOrgKey, setPolicyDraft, setQuota, signPolicyNow, verifyAuditFile,
} from '../admin/org-admin.js';
import { ORG_FILES, orgPublicKeyOf, readPolicy, readSettings, type PolicyDraft } from '../admin/org-files.js';
import { fetchRelayCounts } from '../admin/relay-metrics.js';
import { readIssuerTotals } from '../issuer/issuer-store.js';
import { fromBase64url, fromHex, toBase64url, toHex, type Ed25519PublicKey } from '../crypto/index.js';
import { parseRelayAddress } from '../wire/index.js';
import { durationOption, intOption, parseOptions, UsageError, type Parsed } from './options.js';
import type { CommandIo } from './relay-command.js';

const defaultIo: CommandIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`), env: process.env };

const COMMON = `  --org DIR   the organisation directory (default ./sealpost-org, or SEALPOST_ORG)
  --json      print one JSON object instead of text
  --help      this text`;

const HELP: Record<string, string> = {
  '': `usage: sealpost admin <command> [options]

Runs a closed deployment's organisation (spec/admission.md §7.3). Commands:
  init                      organisation key, admin key, settings, audit log (log-start)
  keys create [--count N]   epoch keys for the next N epochs, a new signed policy
  keys rotate admin|org     a new admin key (logged) or organisation key (policy re-signed)
  policy set [...]          change the policy draft (sealpost admin policy set --help)
  policy sign               sign the draft with the current epoch keys (serial + 1)
  policy show [--file F]    verify and print the signed policy
  quota set N               tokens per member per epoch at the issuer (logged)
  counts                    members served, tokens issued and spent, mailboxes, envelopes
  audit verify [--head S:H] verify the audit log's chain and signatures

Every command takes:
${COMMON}`,
  init: `usage: sealpost admin init [--epoch-length D] [--grace D] [--quota N]

Creates the organisation directory: the organisation key (org-key.json: signs policies; keep a
copy offline), the admin key (admin-key.json: signs the audit log), org.json and audit.log.
  --epoch-length D   how long an epoch issues tokens (default 1d; 90s, 15m, 12h, 1d)
  --grace D          how long after its epoch a token may still be spent (default 1d)
  --quota N          tokens per member per epoch (default 128)
${COMMON}`,
  keys: `usage: sealpost admin keys create [--count N] | keys rotate admin|org

  create    makes keys for the next N epochs (default 2) into epoch-secrets.json (0600),
            logs an epoch-key entry each and signs a new policy listing them; drops the
            secrets of epochs whose redemption has ended (how a key dies, §7.2)
  rotate admin   a new admin key; the old one signs the admin-key-rotation entry
  rotate org     a new organisation key; the policy is re-signed with it. Clients and relays
                 pin the organisation key: give them the new one (printed).
${COMMON}`,
  policy: `usage: sealpost admin policy set|sign|show [options]

  set    --retention D --min-timer D --default-timer D --max-devices N
         --partner RELAY (repeatable: a relay address sealpost+ws://FP@HOST:PORT,
                   its fingerprint FP in base64url, or 64 hex digits) --clear-partners
         changes the draft in org.json (checked against the policy rules, §5.2)
  sign   signs the draft with the current epoch keys: policy.bin, serial + 1, logged
  show   [--file FILE] verifies a signed policy (default the organisation's) and prints it
${COMMON}`,
  quota: `usage: sealpost admin quota set N

Sets the issuer's tokens per member per epoch (the running issuer reloads it) and logs a
quota-change entry.
${COMMON}`,
  counts: `usage: sealpost admin counts [--issuer-data DIR] [--relay-metrics URL]

Aggregates only: per epoch, members served and tokens issued (from the issuer's store,
default ./sealpost-issuer or SEALPOST_ISSUER_DATA); from a relay's metrics URL, tokens spent
per epoch, mailboxes and envelopes.
${COMMON}`,
  audit: `usage: sealpost admin audit verify [--log FILE] [--head SEQ:HASH] [--admin-key KEY]

Verifies every entry's signature and the hash chain from the first admin key (org.json, or
--admin-key base64url). With --head (printed by an earlier verify), also checks that the log
still holds that entry unchanged: a cut or forked log fails (AUDIT_HEAD). Exits 1 naming the
AUDIT_* code when the log does not verify.
${COMMON}`,
};

interface Ctx { org: string; json: boolean; io: CommandIo }

/** A partner relay as an operator has it (its address or fingerprint, spec/federation.md §1), as the draft's hex. */
function partnerFingerprint(text: string): string {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return text.toLowerCase();
  try {
    const fp = text.includes('://') ? parseRelayAddress(text).fingerprint : fromBase64url(text);
    if (fp.length === 32) return toHex(fp);
  } catch { /* the usage error below */ }
  throw new UsageError(`--partner ${text}: not a relay address, a base64url fingerprint or 64 hex digits`);
}

function print(ctx: Ctx, json: Record<string, unknown>, text: string[]): void {
  ctx.io.out(ctx.json ? JSON.stringify(json) : text.join('\n'));
}

function draftChange(p: Parsed, current: PolicyDraft): Partial<PolicyDraft> {
  const c: Partial<PolicyDraft> = {};
  const d = (name: string, key: 'retentionSeconds' | 'minTimerSeconds' | 'defaultTimerSeconds'): void => {
    const v = durationOption(p, name);
    if (v !== undefined) c[key] = v;
  };
  d('retention', 'retentionSeconds');
  d('min-timer', 'minTimerSeconds');
  d('default-timer', 'defaultTimerSeconds');
  const devices = intOption(p, 'max-devices', 1, 255);
  if (devices !== undefined) c.maxDevicesPerMember = devices;
  const added = (p.repeat.get('partner') ?? []).map(partnerFingerprint);
  if (p.flags.has('clear-partners') || added.length > 0) c.partnerRelays = [...(p.flags.has('clear-partners') ? [] : current.partnerRelays), ...added];
  return c;
}

async function run(cmd: string, sub: string | undefined, p: Parsed, ctx: Ctx): Promise<number> {
  const now = Date.now();
  const arg = p.rest[0];
  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'init': {
      const s = initOrganisation(ctx.org, {
        ...(durationOption(p, 'epoch-length') !== undefined ? { epochSeconds: durationOption(p, 'epoch-length')! } : {}),
        ...(durationOption(p, 'grace') !== undefined ? { graceSeconds: durationOption(p, 'grace')! } : {}),
        ...(intOption(p, 'quota') !== undefined ? { tokensPerEpoch: intOption(p, 'quota')! } : {}),
      });
      print(ctx, { org: ctx.org, orgPublicKey: s.orgPublicKey, adminPublicKey: s.firstAdminKey, epochSeconds: s.epochSeconds, graceSeconds: s.graceSeconds, tokensPerEpoch: s.tokensPerEpoch },
        [`organisation created in ${ctx.org}`, `  organisation key: ${s.orgPublicKey}   (give it to clients and relays)`, `  admin key:        ${s.firstAdminKey}   (audit verify starts from it)`,
          `  epochs of ${s.epochSeconds} s, grace ${s.graceSeconds} s, quota ${s.tokensPerEpoch} tokens per member per epoch`, `next: sealpost admin keys create --org ${ctx.org}`]);
      return 0;
    }
    case 'keys create': {
      const r = createEpochKeys(ctx.org, intOption(p, 'count', 1, 64) ?? 2, now);
      print(ctx, { serial: r.serial, created: r.created.map((k) => ({ epoch: k.epoch, publicKey: toBase64url(k.publicKey), issueFrom: k.issueFrom, issueUntil: k.issueUntil, redeemUntil: k.redeemUntil })), dropped: r.dropped },
        [...r.created.map((k) => `epoch ${k.epoch}: issues ${new Date(k.issueFrom).toISOString()} – ${new Date(k.issueUntil).toISOString()}, redeemable until ${new Date(k.redeemUntil).toISOString()}`),
          ...(r.dropped.length > 0 ? [`dropped the keys of ended epochs ${r.dropped.join(', ')}`] : []), `policy serial ${r.serial} signed`]);
      return 0;
    }
    case 'keys rotate': {
      if (arg === 'admin') {
        const k = rotateAdminKey(ctx.org, now);
        print(ctx, { adminPublicKey: toBase64url(k) }, [`new admin key ${toBase64url(k)} (the rotation is in the audit log, signed by the old key)`]);
        return 0;
      }
      if (arg === 'org') {
        const r = rotateOrgKey(ctx.org, now);
        print(ctx, { orgPublicKey: toBase64url(r.orgPublicKey), serial: r.serial },
          [`new organisation key ${toBase64url(r.orgPublicKey)}; policy serial ${r.serial} re-signed with it`, 'give the new key to clients and relays: they pin it']);
        return 0;
      }
      throw new UsageError('keys rotate takes admin or org');
    }
    case 'policy set': {
      const d = setPolicyDraft(ctx.org, draftChange(p, readSettings(ctx.org).draft));
      print(ctx, { draft: d }, [`draft: ${JSON.stringify(d)}`, `sign it with: sealpost admin policy sign --org ${ctx.org}`]);
      return 0;
    }
    case 'policy sign': {
      const { policy, signed } = signPolicyNow(ctx.org, now);
      print(ctx, policyJson(policy, signed), [`policy serial ${policy.serial} signed (${signed.length} bytes), hash ${policyJson(policy, signed)['policyHash'] as string}`]);
      return 0;
    }
    case 'policy show': {
      const s = readSettings(ctx.org);
      const file = p.values.get('file');
      const r = file === undefined ? readPolicy(ctx.org, s) : (() => { const signed = new Uint8Array(readFileSync(file)); return { signed, policy: verifyPolicy(signed, orgPublicKeyOf(s)) }; })();
      if (r === undefined) throw new UsageError('no signed policy yet: run keys create or policy sign');
      const j = policyJson(r.policy, r.signed);
      print(ctx, j, [`policy (signature verified under ${s.orgPublicKey})`, ...Object.entries(j).map(([k, v]) => `  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)]);
      return 0;
    }
    case 'quota set': {
      if (arg === undefined || !/^\d+$/.test(arg)) throw new UsageError('quota set takes a whole number of tokens');
      setQuota(ctx.org, Number(arg), now);
      print(ctx, { tokensPerEpoch: Number(arg) }, [`quota: ${arg} tokens per member per epoch (logged; a running issuer reloads it)`]);
      return 0;
    }
    case 'counts': {
      const dataDir = p.values.get('issuer-data') ?? ctx.io.env['SEALPOST_ISSUER_DATA'] ?? './sealpost-issuer';
      if (!existsSync(join(dataDir, 'issuer-store'))) throw new UsageError(`${dataDir} holds no issuer store (--issuer-data)`);
      const issued = readIssuerTotals(dataDir);
      const url = p.values.get('relay-metrics');
      const relay = url === undefined ? undefined : await fetchRelayCounts(url);
      const epochs = [...new Set([...issued.map((e) => e.epoch), ...Object.keys(relay?.tokensSpent ?? {}).map(Number)])].sort((a, b) => a - b)
        .map((epoch) => ({ epoch, members: issued.find((e) => e.epoch === epoch)?.members ?? 0, tokensIssued: issued.find((e) => e.epoch === epoch)?.tokens ?? 0, ...(relay ? { tokensSpent: relay.tokensSpent[String(epoch)] ?? 0 } : {}) }));
      const rel = relay && { mailboxes: relay.mailboxes ?? null, envelopesQueued: relay.envelopesQueued ?? null, envelopesAccepted: relay.envelopesAccepted ?? null };
      print(ctx, { epochs, ...(rel ? { relay: rel } : {}) }, [
        'epoch        members  issued' + (relay ? '   spent' : ''),
        ...epochs.map((e) => `${String(e.epoch).padEnd(12)} ${String(e.members).padStart(7)} ${String(e.tokensIssued).padStart(7)}` + (relay ? ` ${String(e.tokensSpent).padStart(7)}` : '')),
        ...(rel ? [`relay: ${rel.mailboxes ?? '?'} mailboxes, ${rel.envelopesQueued ?? '?'} envelopes queued, ${rel.envelopesAccepted ?? '?'} accepted since start`] : []),
      ]);
      return 0;
    }
    case 'audit verify': {
      const keyText = p.values.get('admin-key') ?? readSettings(ctx.org).firstAdminKey;
      const headText = p.values.get('head');
      let head: { seq: number; hash: Uint8Array } | undefined;
      if (headText !== undefined) {
        const m = /^(\d+):([0-9a-f]{64})$/.exec(headText);
        if (m === null) throw new UsageError('--head must be SEQ:HASH as printed by audit verify (hash in 64 hex digits)');
        head = { seq: Number(m[1]), hash: fromHex(m[2]!) };
      }
      const path = p.values.get('log') ?? join(ctx.org, ORG_FILES.audit);
      const r = verifyAuditFile(path, fromBase64url(keyText) as Ed25519PublicKey, head);
      const kinds: Record<string, number> = {};
      for (const e of r.entries) kinds[e.action.kind] = (kinds[e.action.kind] ?? 0) + 1;
      const headOut = `${r.head.seq}:${toHex(r.head.hash)}`;
      print(ctx, { ok: true, entries: r.entries.length, head: headOut, adminKey: toBase64url(r.adminKey), kinds },
        [`audit log verified: ${r.entries.length} entries (${Object.entries(kinds).map(([k, v]) => `${v} ${k}`).join(', ')})`, `head: ${headOut}   (keep it; pass it as --head next time)`]);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: admin ${[cmd, sub].filter(Boolean).join(' ')} (see sealpost admin --help)`);
  }
}

const SUBS: Record<string, string[] | null> = { init: null, keys: ['create', 'rotate'], policy: ['set', 'sign', 'show'], quota: ['set'], counts: null, audit: ['verify'] };

export async function adminCommand(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  const cmd = argv[0] && !argv[0].startsWith('--') ? argv[0] : '';
  const subs = SUBS[cmd];
  const sub = subs && argv[1] && subs.includes(argv[1]) ? argv[1] : undefined;
  const rest = argv.slice(cmd === '' ? 0 : sub === undefined ? 1 : 2);
  let json = false;
  try {
    const p = parseOptions(rest, {
      flags: ['help', 'json', 'clear-partners'],
      values: ['org', 'count', 'file', 'log', 'head', 'admin-key', 'issuer-data', 'relay-metrics', 'epoch-length', 'grace', 'quota', 'retention', 'min-timer', 'default-timer', 'max-devices'],
      repeat: ['partner'],
    });
    json = p.flags.has('json');
    if (p.flags.has('help') || cmd === '' || cmd === 'help') { io.out(HELP[cmd === 'help' ? '' : cmd] ?? HELP['']!); return cmd === '' && !p.flags.has('help') ? 2 : 0; }
    if (subs === undefined) throw new UsageError(`unknown command: admin ${cmd} (see sealpost admin --help)`);
    if (subs !== null && sub === undefined) throw new UsageError(`admin ${cmd} needs one of: ${subs.join(', ')}`);
    if (p.rest.length > (`${cmd} ${sub}` === 'keys rotate' || `${cmd} ${sub}` === 'quota set' ? 1 : 0)) throw new UsageError(`unexpected argument ${p.rest[p.rest.length - 1]}`);
    return await run(cmd, sub, p, { org: p.values.get('org') ?? io.env['SEALPOST_ORG'] ?? './sealpost-org', json, io });
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sealpost admin: ${e.message}`);
      if (json) io.out(JSON.stringify({ ok: false, error: 'USAGE', message: e.message }));
      return 2;
    }
    if (isAdmissionError(e)) {
      io.err(`sealpost admin: ${e.message}`);
      if (json) io.out(JSON.stringify({ ok: false, error: e.code, message: e.message }));
      return 1;
    }
    if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
      io.err(`sealpost admin: ${e.message}`);
      if (json) io.out(JSON.stringify({ ok: false, error: (e as { code: string }).code, message: e.message }));
      return 1;
    }
    throw e;
  }
}
