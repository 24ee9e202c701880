import { describe, expect, it } from 'vitest';
import { createTurnLogWriter, maxUnsavedEvents } from '../../src/chat/turn-log-writer.js';
import type { LoggedBatch, TurnEventLog } from '../../src/store/session-store.js';
import { loggedToken } from '../store/session-store-contract.js';

/** A log that records each write (as `session:sequence:indexes`) and lets the test settle it. */
function recordingLog(options: { many: boolean }) {
  const writes: string[][] = [];
  const settles: Array<() => void> = [];
  const record = (batches: readonly LoggedBatch[]) => {
    writes.push(
      batches.map((batch) => `${batch.sessionId}:${batch.sequence}:${batch.events.map((e) => e.index).join(',')}`),
    );
    return new Promise<void>((resolve) => settles.push(resolve));
  };
  const log: TurnEventLog = {
    append: (sessionId, sequence, events) => record([{ sessionId, sequence, events }]),
    read: async () => [],
    ...(options.many ? { appendMany: record } : {}),
  };
  return {
    log,
    writes,
    /** Settles the oldest write still in flight, and lets the writer's next deferred write run. */
    async settle() {
      settles.shift()?.();
      await nextTask();
      await nextTask();
    },
  };
}

/** Lets the current task end, and the writer's deferred write run. */
const nextTask = () => new Promise((resolve) => setImmediate(resolve));

describe('the turn log writer of servers sharing the log (live)', () => {
  it('writes what every turn produced in one task in one append, once that task is over', async () => {
    const { log, writes } = recordingLog({ many: true });
    const writer = createTurnLogWriter(log, true);
    writer.add('s1', 1, loggedToken(0, 'a'), false);
    writer.add('s2', 4, loggedToken(7, 'b'), false);
    writer.add('s1', 1, loggedToken(1, 'c'), false);
    expect(writes).toEqual([]);
    await nextTask();
    expect(writes).toEqual([['s1:1:0,1', 's2:4:7']]);
  });

  it('keeps one append in flight: what comes meanwhile goes together once it settled', async () => {
    const { log, writes, settle } = recordingLog({ many: true });
    const writer = createTurnLogWriter(log, true);
    writer.add('s1', 1, loggedToken(0, 'a'), false);
    await nextTask();
    for (let index = 1; index <= 3; index += 1) {
      writer.add('s1', 1, loggedToken(index, 'x'), index === 3);
      await nextTask();
    }
    writer.flush();
    expect(writes).toEqual([['s1:1:0']]);
    await settle();
    expect(writes).toEqual([['s1:1:0'], ['s1:1:1,2,3']]);
  });

  it(`writes at once, even with an append in flight, when ${maxUnsavedEvents} events of a turn wait, or when drained`, async () => {
    const { log, writes } = recordingLog({ many: true });
    const writer = createTurnLogWriter(log, true);
    writer.add('s1', 1, loggedToken(0, 'a'), false);
    await nextTask();
    for (let index = 1; index <= maxUnsavedEvents; index += 1) writer.add('s1', 1, loggedToken(index, 'x'), false);
    expect(writes).toHaveLength(2);
    expect(writes[1][0].split(',')).toHaveLength(maxUnsavedEvents);
    writer.add('s2', 1, loggedToken(0, 'y'), false);
    writer.drain();
    expect(writes[2]).toEqual(['s2:1:0']);
  });
});

describe('the turn log writer of a server alone on its store', () => {
  it('writes a turn at its step boundaries, the rest on the ticker, one append per turn', async () => {
    const { log, writes } = recordingLog({ many: false });
    const writer = createTurnLogWriter(log, false);
    writer.add('s1', 1, loggedToken(0, 'a'), false);
    writer.add('s2', 1, loggedToken(0, 'b'), false);
    await nextTask();
    expect(writes).toEqual([]);
    writer.add('s1', 1, loggedToken(1, 'end of a step'), true);
    expect(writes).toEqual([['s1:1:0,1']]);
    writer.add('s1', 1, loggedToken(2, 'c'), false);
    writer.flush();
    expect(writes).toEqual([['s1:1:0,1'], ['s2:1:0'], ['s1:1:2']]);
  });
});
