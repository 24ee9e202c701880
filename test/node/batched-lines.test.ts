import { describe, expect, it } from 'vitest';
import { batchedLines } from '../../src/node/batched-lines.js';

/** A deferral the test runs by hand: the end of an event-loop turn. */
function manualDefer() {
  const tasks: Array<() => void> = [];
  return {
    defer: (task: () => void) => tasks.push(task),
    run: () => {
      for (const task of tasks.splice(0)) task();
    },
  };
}

describe('batchedLines', () => {
  it('writes the lines of one event-loop turn in one write, in order, at the end of the turn', () => {
    const writes: string[] = [];
    const turn = manualDefer();
    const lines = batchedLines((text) => writes.push(text), turn.defer);
    lines.line('first');
    lines.line('second');
    lines.line('third');
    expect(writes).toEqual([]);
    turn.run();
    expect(writes).toEqual(['first\nsecond\nthird\n']);
    lines.line('next turn');
    turn.run();
    expect(writes).toEqual(['first\nsecond\nthird\n', 'next turn\n']);
  });

  it('flush writes what waits at once, and the deferred flush then writes nothing twice', () => {
    const writes: string[] = [];
    const turn = manualDefer();
    const lines = batchedLines((text) => writes.push(text), turn.defer);
    lines.line('fatal');
    lines.flush();
    expect(writes).toEqual(['fatal\n']);
    turn.run();
    expect(writes).toEqual(['fatal\n']);
  });
});
