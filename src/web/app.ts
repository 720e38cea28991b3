// The web client (spec/client.md §13): the SDK's browser entry driven by a page of plain DOM.
// Open or create a profile with a passphrase, make an invitation (QR code and link), accept
// one, compare and confirm safety codes, chat. Everything the SDK throws is a ClientError,
// shown by its code; nothing leaves the page but what the SDK sends to the relay.
import { Client, isClientError, type ClientError, type Contact, type HistoryEntry, type Message } from '../client/browser/index.js';
import { qrSvg } from './qr.js';

/** What each error code means to the person at the page. */
const EXPLAIN: Partial<Record<ClientError['code'], string>> = {
  WRONG_PASSPHRASE: 'That passphrase does not open this profile.',
  PROFILE_LOCKED: 'This profile is open in another tab or window. Close it there first.',
  SAFETY_CODE_MISMATCH: 'That is not the safety code: the two of you see different codes. Do not confirm.',
  RELAY_UNAVAILABLE: 'The relay cannot be reached right now.',
  RELAY_HANDSHAKE: "The relay's key does not match its address: not connecting.",
};

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Shows `text` in the status line; `code` (a ClientError's) rides along as data-code. */
function status(text: string, code = ''): void {
  const s = $('status');
  s.textContent = text;
  s.dataset['code'] = code;
}

function explain(e: unknown): string {
  if (isClientError(e)) return EXPLAIN[e.code] ?? `${e.code}: ${e.message}`;
  return String(e);
}

/** Runs an action of a button, showing its error instead of throwing. */
const action = (fn: () => Promise<void>) => (): void => {
  status('');
  fn().catch((e: unknown) => status(explain(e), isClientError(e) ? e.code : 'ERROR'));
};

const relay = document.querySelector<HTMLMetaElement>('meta[name="sealpost-relay"]')!.content;
let client: Client | null = null;
let current: string | null = null;

function showUnlock(): void {
  const profile = el('input', { id: 'profile', value: 'default', autocomplete: 'username' });
  const pass = el('input', { id: 'passphrase', type: 'password', autocomplete: 'current-password' });
  const open = el('button', { id: 'open', textContent: 'Open' });
  open.onclick = action(async () => {
    open.disabled = true;
    status('Unlocking…');
    try {
      client = await Client.open({ dataDir: profile.value, passphrase: pass.value, relay });
    } finally {
      open.disabled = false;
    }
    status('');
    showMain();
  });
  $('app').replaceChildren(el('section', {},
    el('h2', { textContent: 'Open a profile' }),
    el('p', { textContent: 'A new name makes a new profile on this browser, encrypted under the passphrase.' }),
    el('label', {}, 'Profile ', profile), ' ', el('label', {}, 'Passphrase ', pass), ' ', open));
}

function showMain(): void {
  const c = client!;
  const inviteName = el('input', { id: 'invite-name', placeholder: 'their name (your label)' });
  const invite = el('button', { id: 'invite', textContent: 'Make an invitation' });
  const invitation = el('div', { id: 'invitation' });
  invite.onclick = action(async () => {
    const link = await c.createInvitation(inviteName.value ? { name: inviteName.value } : {});
    const qr = el('img', { id: 'qr', alt: 'invitation QR code', src: `data:image/svg+xml,${encodeURIComponent(qrSvg(link))}` });
    invitation.replaceChildren(el('p', { textContent: 'Show this code, or send the link out of band, to one person. It works once.' }),
      qr, el('p', { id: 'invite-link', className: 'link', textContent: link }));
  });
  const acceptLink = el('input', { id: 'accept-link', placeholder: 'sealpost:invite/…' });
  const acceptName = el('input', { id: 'accept-name', placeholder: 'their name (your label)' });
  const accept = el('button', { id: 'accept', textContent: 'Accept' });
  accept.onclick = action(async () => {
    status('Contacting the inviter…');
    const contact = await c.acceptInvitation(acceptLink.value.trim(), acceptName.value ? { name: acceptName.value } : {});
    status('');
    acceptLink.value = acceptName.value = '';
    select(contact.id);
  });
  const lock = el('button', { id: 'lock', textContent: 'Lock' });
  lock.onclick = action(async () => { client = current = null; await c.close(); showUnlock(); });
  $('app').replaceChildren(
    el('section', {}, el('h2', { textContent: 'Invite' }), inviteName, invite, invitation),
    el('section', {}, el('h2', { textContent: 'Accept an invitation' }), acceptLink, acceptName, accept),
    el('div', { className: 'cols' },
      el('section', {}, el('h2', { textContent: 'Contacts' }), el('div', { id: 'contacts' })),
      el('section', { id: 'conversation' }, 'Choose a contact.')),
    lock);
  c.on('contact', () => renderContacts());
  c.on('message', (m: Message) => { if (m.contactId === current) renderConversation(); renderContacts(); });
  renderContacts();
}

function renderContacts(): void {
  const list = client!.contacts().map((k) => {
    const b = el('button', { className: `contact${k.id === current ? ' on' : ''}`, title: k.id },
      `${k.name} `, badge(k));
    b.dataset['id'] = k.id;
    b.onclick = () => select(k.id);
    return b;
  });
  $('contacts').replaceChildren(...(list.length ? list : [el('p', { textContent: 'No contacts yet.' })]));
}

function badge(k: Contact): HTMLElement {
  if (!k.established) return el('span', { className: 'unverified', textContent: '(waiting)' });
  return k.verified ? el('span', { className: 'verified', textContent: '✓ verified' }) : el('span', { className: 'unverified', textContent: '(not verified)' });
}

function select(id: string): void {
  current = id;
  renderContacts();
  renderConversation();
}

function renderConversation(): void {
  const c = client!;
  const k = c.contact(current!);
  if (!k) return;
  const pane = $('conversation');
  const verify: Array<Node | string> = [];
  if (!k.verified) {
    const code = el('input', { id: 'code-input', placeholder: 'the code on their screen' });
    const confirm = el('button', { id: 'verify', textContent: 'Confirm' });
    confirm.onclick = action(async () => { await c.verifyContact(k.id, code.value.trim()); renderConversation(); renderContacts(); });
    verify.push(el('p', { textContent: 'Compare this code with your contact (in person or by a call), then type theirs:' }), code, confirm);
  }
  const log = el('div', { id: 'log' }, ...c.history(k.id).map(line));
  const text = el('input', { id: 'text', placeholder: 'message', autocomplete: 'off' });
  const sendButton = el('button', { id: 'send', textContent: 'Send' });
  const sendNow = action(async () => {
    if (!text.value) return;
    await c.send(k.id, text.value);
    text.value = '';
    renderConversation();
  });
  sendButton.onclick = sendNow;
  text.onkeydown = (ev) => { if (ev.key === 'Enter') sendNow(); };
  pane.replaceChildren(el('h2', {}, `${k.name} `, badge(k)),
    el('p', {}, 'Safety code: ', el('span', { id: 'safety-code', className: 'code', textContent: k.safetyCode })),
    ...verify, log, text, sendButton);
  log.scrollTop = log.scrollHeight;
  if (!k.established) { text.disabled = sendButton.disabled = true; }
}

function line(h: HistoryEntry): HTMLElement {
  const when = new Date(h.direction === 'in' ? h.receivedAt : h.sentAt).toLocaleTimeString();
  return el('div', { className: h.direction }, `${h.direction === 'in' ? '←' : '→'} ${h.text} `, el('small', { textContent: when }));
}

showUnlock();
