// The rules of disappearing timers (spec/client.md §10.2; spec/admission.md §5.4): which
// timers this client may set, which it applies, when a setting replaces another. Pure.
import type { OrgPolicy } from '../admission/policy.js';
import { ClientError } from './errors.js';
import { MAX_TIMER_SECONDS } from './payload.js';
import type { ContactRecord, MessageRecord } from './state.js';
import type { Contact } from './types.js';

export type TimerPolicy = Pick<OrgPolicy, 'minTimerSeconds' | 'defaultTimerSeconds'> | null | undefined;

/** A timer this client sets: 0 .. 2^32-1 s, and under a minimum neither lower nor off (INVALID_ARGUMENT). */
export function checkOwnTimer(policy: TimerPolicy, seconds: unknown): number {
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0 || seconds > MAX_TIMER_SECONDS) {
    throw new ClientError('INVALID_ARGUMENT', 'a disappearing timer is a whole number of seconds (0: off)');
  }
  const min = policy?.minTimerSeconds ?? 0;
  if (min > 0 && (seconds === 0 || seconds < min)) {
    throw new ClientError('INVALID_ARGUMENT', `the organisation's policy sets a disappearing timer of at least ${min} s (and not off)`);
  }
  return seconds;
}

/**
 * The timer this client applies to what it stores and sends under `seconds` (spec/client.md
 * §10.2): a timer another client set below our policy's minimum is raised to it, and off
 * becomes the policy's default.
 */
export function appliedTimer(policy: TimerPolicy, seconds: number): number {
  const min = policy?.minTimerSeconds ?? 0;
  if (min === 0) return seconds;
  return seconds === 0 ? policy!.defaultTimerSeconds : Math.max(seconds, min);
}

/** A conversation's timer as its two people set it; never set: the policy's default (or off). */
export const conversationTimer = (policy: TimerPolicy, c: ContactRecord): number => c.timer ?? policy?.defaultTimerSeconds ?? 0;

/** When a text sent at `sentAt` under an applied timer expires (ms); 0: it is kept. */
export const expiryOf = (sentAt: number, applied: number): number => (applied > 0 ? sentAt + applied * 1000 : 0);

/** The timer fields of a contact's view. */
export function timerView(policy: TimerPolicy, c: ContactRecord): Pick<Contact, 'disappearingSeconds' | 'appliedDisappearingSeconds'> {
  const set = conversationTimer(policy, c);
  return { disappearingSeconds: set, appliedDisappearingSeconds: appliedTimer(policy, set) };
}

/**
 * Whether a setting made at `at` (the setter's clock) replaces the one held: the later one
 * wins, and of two made in the same millisecond the shorter (off counts as the longest), so
 * that every device ends on the same timer whatever order they arrive in (§10.2).
 */
export function takesOver(c: ContactRecord, seconds: number, at: number): boolean {
  const heldAt = c.timerAt ?? -1;
  if (at !== heldAt) return at > heldAt;
  const rank = (s: number): number => (s === 0 ? Infinity : s);
  return rank(seconds) < rank(c.timer ?? 0);
}

/** The timer a text to `c` goes under now: the conversation's, as this client applies it. */
export const sendingTimer = (policy: TimerPolicy, c: ContactRecord): number => appliedTimer(policy, conversationTimer(policy, c));

/** Whether a history record is still shown at `now`. */
export const live = (m: MessageRecord, now: number): boolean => !m.expiresAt || m.expiresAt > now;
