import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/approvals/audit-entry.js';
import { eventFrame } from '../../src/chat/event-frame.js';
import type { SessionRecord } from '../../src/sessions/session-record.js';
import type { LoggedEvent, SessionStore, TurnEventLog } from '../../src/store/session-store.js';

export function sampleRecord(id: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    provider: 'ollama',
    model: 'qwen2.5-coder:latest',
    temperature: 0.7,
    context_window_size: 2048,
    stream: false,
    current_directory: '/tmp',
    system_prompt: 'You are helpful.',
    messages: [
      { role: 'user', content: 'hi ✓ 😀' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'call_1', name: 'read_file', arguments: { path: 'a.txt' } }],
      },
      { role: 'tool', content: 'contents', tool_call_id: 'call_1', name: 'read_file' },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5 },
    last_prompt_tokens: 10,
    turns_started: 1,
    turn: {
      request_id: 'turn-1',
      sequence: 1,
      rounds: 1,
      usage: { prompt_tokens: 1, completion_tokens: 2 },
      tool_calls: [
        {
          request_id: 'r1',
          call_id: 'call_2',
          name: 'write_file',
          server: 'filesystem',
          arguments: { path: 'b.txt', content: 'hi' },
          status: 'pending',
          expires_at: 1_800_000_000_000,
          closed: false,
        },
      ],
      message: 'Let me write that.',
    },
    recent_calls: [{ request_id: 'r0', status: 'executed' }],
    grants: ['filesystem/read_file'],
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A logged token event with its frame (the frame's turn number is not read back, only its index). */
export function loggedToken(index: number, content: string): LoggedEvent {
  const event = { event: 'token', data: { content } } as const;
  return { index, event, frame: eventFrame(event, `1.${index}`) };
}

/**
 * `count` approvers race to decide the one pending call of session `s1`, each reading it and
 * saving it back with `ifRevision`, approver n through `stores[n % stores.length]`. Resolves to
 * whether each one's save won; a loser must fail with `session_conflict`.
 */
export function raceDecisions(stores: SessionStore[], count = 100): Promise<boolean[]> {
  const decide = async (approver: number) => {
    const store = stores[approver % stores.length];
    const record = (await store.get('s1')) as SessionRecord;
    const call = record.turn?.tool_calls[0];
    if (call?.status !== 'pending') return false;
    Object.assign(call, { status: approver % 2 ? 'approved' : 'denied', reason: `approver ${approver}` });
    const read = record.revision ?? 0;
    try {
      await store.put({ ...record, revision: read + 1 }, { ttlMilliseconds: 60_000, ifRevision: read });
      return true;
    } catch (error) {
      expect(error).toMatchObject({ code: 'session_conflict' });
      return false;
    }
  };
  return Promise.all(Array.from({ length: count }, (_, approver) => decide(approver)));
}

export interface StoreHarness {
  store: SessionStore;
  /** Lets `milliseconds` pass for the store (a fake clock, or real waiting where the driver needs it). */
  advance(milliseconds: number): Promise<void>;
}

/** How a driver is made for a test: `maxSessions` for drivers that bound how many they hold (others ignore it). */
export interface StoreLimits {
  maxSessions?: number;
}

/**
 * The behaviour every SessionStore driver must have. Each driver's test file calls this with a
 * factory that returns a fresh, empty store.
 */
/**
 * What a driver promises beyond the base contract: atomic compare-and-set saves, a durable event
 * log, queries across sessions (`approvals`).
 */
export interface StorePromises {
  atomicRevisions: boolean;
  events: boolean;
  approvals: boolean;
}

/** An audit entry of session `sessionId`, for the index tests. */
export function sampleAuditEntry(sessionId: string, requestId: string): AuditEntry {
  return {
    session_id: sessionId,
    request_id: requestId,
    tool: 'write_file',
    server: 'filesystem',
    arguments_sha256: 'ab'.repeat(32),
    decision: 'denied',
    decided_by: { kind: 'user' },
    reason: 'not now ✓',
    outcome: 'denied',
    decided_at: '2026-01-01T00:00:01.000Z',
    recorded_at: '2026-01-01T00:00:01.000Z',
  };
}

/** `sampleRecord`'s pending call r1, as the index lists it for session `sessionId`. */
const samplePending = (sessionId: string) => ({
  session_id: sessionId,
  request_id: 'r1',
  tool: { name: 'write_file', server: 'filesystem' },
  arguments: { path: 'b.txt', content: 'hi' },
  expires_at: 1_800_000_000_000,
});

export function sessionStoreContract(
  name: string,
  promises: StorePromises,
  create: (limits?: StoreLimits) => Promise<StoreHarness>,
) {
  describe(`SessionStore contract: ${name}`, () => {
    it('returns undefined for an id never saved', async () => {
      const { store } = await create();
      expect(await store.get('missing')).toBeUndefined();
    });

    it('returns a saved record equal to what was saved, with every field', async () => {
      const { store } = await create();
      const record = sampleRecord('s1');
      await store.put(record, { ttlMilliseconds: 60_000 });
      expect(await store.get('s1')).toEqual(record);
    });

    it('shares no object with the caller: changing either side changes nothing in the other', async () => {
      const { store } = await create();
      const record = sampleRecord('s1');
      await store.put(record, { ttlMilliseconds: 60_000 });
      record.messages.push({ role: 'user', content: 'later' });
      const read = await store.get('s1');
      expect(read?.messages).toHaveLength(3);
      read?.messages.pop();
      expect((await store.get('s1'))?.messages).toHaveLength(3);
    });

    it('replaces a record saved again under the same id', async () => {
      const { store } = await create();
      await store.put(sampleRecord('s1', { model: 'a' }), { ttlMilliseconds: 60_000 });
      await store.put(sampleRecord('s1', { model: 'b' }), { ttlMilliseconds: 60_000 });
      expect((await store.get('s1'))?.model).toBe('b');
    });

    it('keeps records apart by id', async () => {
      const { store } = await create();
      await store.put(sampleRecord('s1', { model: 'a' }), { ttlMilliseconds: 60_000 });
      await store.put(sampleRecord('s2', { model: 'b' }), { ttlMilliseconds: 60_000 });
      expect((await store.get('s1'))?.model).toBe('a');
      expect((await store.get('s2'))?.model).toBe('b');
    });

    it('deletes a record; deleting a missing one is no error', async () => {
      const { store } = await create();
      await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
      await store.delete('s1');
      expect(await store.get('s1')).toBeUndefined();
      await expect(store.delete('never-there')).resolves.toBeUndefined();
    });

    it('expires a record after its ttl without another put', async () => {
      const { store, advance } = await create();
      await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
      await advance(59_000);
      expect(await store.get('s1')).toBeDefined();
      await advance(2_000);
      expect(await store.get('s1')).toBeUndefined();
    });

    it('restarts the expiry on every put (idle expiry)', async () => {
      const { store, advance } = await create();
      await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
      await advance(40_000);
      await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
      await advance(40_000);
      expect(await store.get('s1')).toBeDefined();
    });

    it('never drops a record to make room: when full it refuses new ones, still saves held ones, and frees room on expiry', async () => {
      const { store, advance } = await create({ maxSessions: 3 });
      const accepted: string[] = [];
      for (const id of ['s1', 's2', 's3', 's4', 's5']) {
        try {
          await store.put(sampleRecord(id), { ttlMilliseconds: 60_000 });
          accepted.push(id);
        } catch (error) {
          expect(error).toMatchObject({ code: 'too_many_sessions', details: { retry_after_seconds: 60 } });
        }
      }
      expect(accepted.length).toBeGreaterThanOrEqual(3);
      for (const id of accepted) expect(await store.get(id)).toBeDefined();
      await store.put(sampleRecord('s1', { model: 'again' }), { ttlMilliseconds: 60_000 });
      expect((await store.get('s1'))?.model).toBe('again');
      await advance(61_000);
      await store.put(sampleRecord('s6'), { ttlMilliseconds: 60_000 });
      expect(await store.get('s6')).toBeDefined();
    });

    it('saves with ifRevision only over the revision it names, and changes nothing otherwise', async () => {
      const { store } = await create();
      await store.put(sampleRecord('s1', { model: 'new', revision: 1 }), { ttlMilliseconds: 60_000, ifRevision: 0 });
      await store.put(sampleRecord('s1', { model: 'second', revision: 2 }), { ttlMilliseconds: 60_000, ifRevision: 1 });
      expect(await store.get('s1')).toMatchObject({ model: 'second', revision: 2 });
      expect(store.atomicRevisions).toBe(promises.atomicRevisions);
      if (!promises.atomicRevisions) return;
      const stale = store.put(sampleRecord('s1', { model: 'stale', revision: 2 }), {
        ttlMilliseconds: 60_000,
        ifRevision: 1,
      });
      await expect(stale).rejects.toMatchObject({ code: 'session_conflict', status: 409 });
      expect(await store.get('s1')).toMatchObject({ model: 'second', revision: 2 });
      // Without ifRevision, a save is unconditional.
      await store.put(sampleRecord('s1', { model: 'forced', revision: 7 }), { ttlMilliseconds: 60_000 });
      expect(await store.get('s1')).toMatchObject({ model: 'forced', revision: 7 });
    });

    // Registered only for the drivers that promise it (a skipped test would assert nothing).
    const atomically = promises.atomicRevisions ? it : undefined;
    atomically?.('gives 100 concurrent decisions on one pending call exactly one winner', async () => {
      const { store } = await create();
      await store.put(sampleRecord('s1', { revision: 1 }), { ttlMilliseconds: 60_000 });
      const outcomes = await raceDecisions([store]);
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const winner = outcomes.indexOf(true);
      const stored = await store.get('s1');
      expect(stored?.revision).toBe(2);
      expect(stored?.turn?.tool_calls[0]).toMatchObject({ reason: `approver ${winner}` });
    });

    it('keeps an event log only when it says so', async () => {
      const { store } = await create();
      expect(store.events !== undefined).toBe(promises.events);
    });

    const withEvents = promises.events ? it : undefined;
    withEvents?.('keeps the event log of the latest turn, in order', async () => {
      const { store } = await create();
      const log = store.events as TurnEventLog;
      await log.append('s1', 1, [loggedToken(0, 'a'), loggedToken(1, 'b')]);
      await log.append('s1', 1, [loggedToken(2, 'c ✓ 😀')]);
      await log.append('s2', 4, [loggedToken(0, 'other')]);
      expect(await log.read('s1', 1, -1)).toEqual([loggedToken(0, 'a'), loggedToken(1, 'b'), loggedToken(2, 'c ✓ 😀')]);
      expect(await log.read('s1', 1, 0)).toEqual([loggedToken(1, 'b'), loggedToken(2, 'c ✓ 😀')]);
      expect(await log.read('s1', 2, -1)).toEqual([]);
      await log.append('s1', 2, [loggedToken(0, 'next turn')]);
      expect(await log.read('s1', 1, -1)).toEqual([]);
      expect(await log.read('s1', 2, -1)).toEqual([loggedToken(0, 'next turn')]);
      await store.put(sampleRecord('s2'), { ttlMilliseconds: 60_000 });
      await store.delete('s2');
      expect(await log.read('s2', 4, -1)).toEqual([]);
    });

    it('answers queries across sessions only when it says so', async () => {
      const { store } = await create();
      expect(store.approvals !== undefined).toBe(promises.approvals);
    });

    const withApprovals = promises.approvals ? it : undefined;
    withApprovals?.(
      'lists the pending calls and audit entries of every live session, as their latest save left them',
      async () => {
        const { store, advance } = await create();
        const byRequest = (a: { request_id: string; session_id: string }, b: typeof a) =>
          `${a.session_id}/${a.request_id}`.localeCompare(`${b.session_id}/${b.request_id}`);
        const index = store.approvals as NonNullable<SessionStore['approvals']>;
        expect(await index.pending()).toEqual([]);
        expect(await index.audit()).toEqual([]);
        const idle = { ...sampleRecord('idle'), turn: null };
        await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
        await store.put(idle, { ttlMilliseconds: 60_000 });
        await store.put(sampleRecord('s2', { audit: [sampleAuditEntry('s2', 'r0')] }), { ttlMilliseconds: 120_000 });
        await store.put(sampleRecord('gone', { audit: [sampleAuditEntry('gone', 'r0')] }), { ttlMilliseconds: 60_000 });
        await store.delete('gone');
        expect((await index.pending()).sort(byRequest)).toEqual([samplePending('s1'), samplePending('s2')]);
        expect(await index.audit()).toEqual([sampleAuditEntry('s2', 'r0')]);

        // The call of s1 decided and saved again: no longer pending, and its audit entry appears.
        const decided = sampleRecord('s1', { audit: [sampleAuditEntry('s1', 'r1')] });
        Object.assign(decided.turn?.tool_calls[0] ?? {}, { status: 'denied', closed: true });
        await store.put(decided, { ttlMilliseconds: 60_000 });
        expect(await index.pending()).toEqual([samplePending('s2')]);
        expect((await index.audit()).sort(byRequest)).toEqual([
          sampleAuditEntry('s1', 'r1'),
          sampleAuditEntry('s2', 'r0'),
        ]);

        // What the caller does with the answer changes nothing stored.
        const [listed] = await index.pending();
        listed.arguments.path = 'changed';
        expect((await index.pending())[0].arguments.path).toBe('b.txt');

        // s1 expires; s2 (a longer ttl) lives on.
        await advance(61_000);
        expect(await index.pending()).toEqual([samplePending('s2')]);
        expect(await index.audit()).toEqual([sampleAuditEntry('s2', 'r0')]);
      },
    );

    it('remembers the default session id, the latest one set winning', async () => {
      const { store } = await create();
      expect(await store.getDefaultSessionId()).toBeUndefined();
      await store.setDefaultSessionId('s1');
      await store.setDefaultSessionId('s2');
      expect(await store.getDefaultSessionId()).toBe('s2');
    });
  });
}
