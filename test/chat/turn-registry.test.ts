import { describe, expect, it } from 'vitest';
import { createTurnRegistry } from '../../src/chat/turn-registry.js';
import { createManualClock } from '../helpers/manual-clock.js';

describe('the turn registry', () => {
  it('claims a session once: a second begin is 409 turn_in_progress until the first ends', () => {
    const turns = createTurnRegistry(createManualClock());
    const first = turns.begin('s');
    expect(() => turns.begin('s')).toThrowError(expect.objectContaining({ status: 409, code: 'turn_in_progress' }));
    turns.end('s', first);
    expect(turns.isRunning('s')).toBe(false);
    expect(() => turns.begin('s')).not.toThrow();
  });

  it('idle() resolves when the running turn ends, not before', async () => {
    const clock = createManualClock();
    const turns = createTurnRegistry(clock);
    const controller = turns.begin('s');
    let resolved = false;
    const waiting = turns.idle('s', 5000).then(() => (resolved = true));
    await clock.advance(4999);
    expect(resolved).toBe(false);
    turns.end('s', controller);
    await waiting;
    expect(resolved).toBe(true);
    expect(clock.timers).toBe(0);
  });

  it('idle() gives up after its timeout while the turn still runs', async () => {
    const clock = createManualClock();
    const turns = createTurnRegistry(clock);
    turns.begin('s');
    let resolved = false;
    const waiting = turns.idle('s', 50).then(() => (resolved = true));
    await clock.advance(49);
    expect(resolved).toBe(false);
    await clock.advance(1);
    await waiting;
    expect(turns.isRunning('s')).toBe(true);
  });
});
