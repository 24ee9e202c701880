import { describe, expect, it } from 'vitest';
import { type IterationEnd, watchIteration } from '../src/watch-iteration.js';

/** Yields `values`, then throws `error` when given; records whether its `finally` ran. */
function source(values: number[], error?: Error) {
  const state = { finalized: false };
  async function* generate() {
    try {
      yield* values;
      if (error) throw error;
    } finally {
      state.finalized = true;
    }
  }
  return { state, iterable: generate() };
}

function watched(iterable: AsyncIterable<number>) {
  const seen: number[] = [];
  const ends: IterationEnd[] = [];
  const events: string[] = [];
  const iteration = watchIteration(iterable, {
    value: (value) => seen.push(value),
    end: (ended) => {
      ends.push(ended);
      events.push(`end:${ended.how}`);
    },
  });
  return { seen, ends, events, iteration };
}

describe('watchIteration', () => {
  it('shows each value as it passes and ends once, completed, before the consumer hears of the end', async () => {
    const { iterable, state } = source([1, 2, 3]);
    const { seen, ends, events, iteration } = watched(iterable);
    const received: number[] = [];
    for await (const value of iteration) {
      received.push(value);
      expect(seen).toEqual(received);
      events.push(`value:${value}`);
    }
    events.push('consumer done');
    expect(received).toEqual([1, 2, 3]);
    expect(ends).toEqual([{ how: 'completed' }]);
    expect(events).toEqual(['value:1', 'value:2', 'value:3', 'end:completed', 'consumer done']);
    expect(state.finalized).toBe(true);
    await expect(iteration.next()).resolves.toEqual({ done: true, value: undefined });
    expect(ends).toHaveLength(1);
  });

  it('ends failed with the error, which the consumer still gets', async () => {
    const error = new Error('upstream broke');
    const { iterable } = source([1], error);
    const { seen, ends, iteration } = watched(iterable);
    const received: number[] = [];
    await expect(
      (async () => {
        for await (const value of iteration) received.push(value);
      })(),
    ).rejects.toBe(error);
    expect(received).toEqual([1]);
    expect(seen).toEqual([1]);
    expect(ends).toEqual([{ how: 'failed', error }]);
  });

  it('ends left when the consumer breaks off, and lets the source finish (its finally runs)', async () => {
    const { iterable, state } = source([1, 2, 3]);
    const { seen, ends, iteration } = watched(iterable);
    for await (const value of iteration) {
      if (value === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(ends).toEqual([{ how: 'left' }]);
    expect(state.finalized).toBe(true);
    await iteration.return(undefined);
    expect(ends).toHaveLength(1);
  });

  it('ends left once when it is returned before the first value', async () => {
    const { iterable, state } = source([1]);
    const { seen, ends, iteration } = watched(iterable);
    await expect(iteration.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    await expect(iteration.next()).resolves.toEqual({ done: true, value: undefined });
    expect(seen).toEqual([]);
    expect(ends).toEqual([{ how: 'left' }]);
    // A generator never started has no finally to run.
    expect(state.finalized).toBe(false);
  });
});
