import { describe, expect, it } from 'vitest';
import { createTurnRegistry } from '../../src/chat/turn-registry.js';

describe('the turn registry', () => {
  it('claims a session once: a second begin is 409 turn_in_progress until the first ends', () => {
    const turns = createTurnRegistry();
    const first = turns.begin('s');
    expect(() => turns.begin('s')).toThrowError(expect.objectContaining({ status: 409, code: 'turn_in_progress' }));
    turns.end('s', first);
    expect(turns.isRunning('s')).toBe(false);
    expect(() => turns.begin('s')).not.toThrow();
  });

  it('idle() resolves when the running turn ends, not before', async () => {
    const turns = createTurnRegistry();
    const controller = turns.begin('s');
    let resolved = false;
    const waiting = turns.idle('s', 5000).then(() => (resolved = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    turns.end('s', controller);
    await waiting;
    expect(resolved).toBe(true);
  });

  it('idle() gives up after its timeout while the turn still runs', async () => {
    const turns = createTurnRegistry();
    turns.begin('s');
    const started = Date.now();
    await turns.idle('s', 50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(turns.isRunning('s')).toBe(true);
  });
});
