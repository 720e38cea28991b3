// A closed relay's allow-list from its organisation's signed policy (spec/admission.md §5.4,
// spec/federation.md §1): a relay that B's policy does not name is refused; once the admin signs
// a policy listing it, B accepts its link after the reload, and refuses it again when a later
// policy drops it. Real relays on loopback; the policy file is rewritten as `sealpost admin` would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromBase64url } from '../../src/crypto/index.js';
import { forwardEnvelope, newIdempotencyKey, queryDestination } from '../../src/client/forwarding.js';
import { parseRelayAddress } from '../../src/wire/index.js';
import { makeOrganisation } from '../_support/organisation.js';
import { clientPool, envelope, errorOf, makeMailbox, startTestRelay, tempDir } from './_helpers.js';

test('the policy\'s partnerRelays open and close B to A', async () => {
  const dir = tempDir('sealpost-org-');
  const org = makeOrganisation(dir.path);
  const A = await startTestRelay({ forwardTimeoutSeconds: 2 });
  const B = await startTestRelay({ ...org.relayOptions });
  A.relay.partners.setAddresses('test', [parseRelayAddress(B.relay.address)]);
  const onA = clientPool(A.relay.address);
  const onB = clientPool(B.relay.address);
  const reloaded = async (): Promise<void> => { assert.ok(B.relay.reloadAdmission(), 'the new policy is accepted'); };
  try {
    const owner = await onB.connect();
    const { cap } = await makeMailbox(owner, B.relay.address, { token: org.tokens(1)[0]! });
    const sender = await onA.connect();
    // B's policy names no partner: A's link is refused at the handshake.
    assert.is(await errorOf(queryDestination(sender, B.relay.address)), 'PEER_DOWN');
    assert.match(B.relay.metricsText(), /sealpost_peer_refused_total\{reason="not_partner"\} [1-9]/);

    org.update({ partnerRelays: [fromBase64url(A.relay.fingerprint)] });
    await reloaded();
    const dest = await queryDestination(sender, B.relay.address);
    await forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey());
    assert.is(B.relay.stats().envelopes, 1, 'B took the forwarded envelope');

    org.update({ partnerRelays: [] });
    await reloaded();
    assert.is(await errorOf(forwardEnvelope(sender, dest, cap, envelope(256), newIdempotencyKey())), 'PEER_DOWN', 'dropped from the policy, the link goes');
    assert.is(B.relay.stats().envelopes, 1);
  } finally {
    await onA.closeAll();
    await onB.closeAll();
    await A.stop();
    await B.stop();
    dir.rm();
  }
});

test.run();
