import { describe, expect, it } from 'vitest';
import { createTurnChannels, type Subscriber } from '../../src/chat/turn-channels.js';
import type { TurnEvent, TurnResponse } from '../../src/chat/turn-events.js';
import type { TurnRun } from '../../src/chat/turn-service.js';
import type { Clock } from '../../src/clock.js';
import { createManualClock } from '../helpers/manual-clock.js';

// The hub between runs and their followers, on a clock the tests advance: keep-alives, approval
// waits and the resume grace are driven by time that passes only when a test says so.

const response = (requiresApproval: boolean): TurnResponse => ({
  request_id: 'r1',
  requires_approval: requiresApproval,
  tool: null,
  message: '',
  model: 'm',
  role: 'assistant',
  session_id: 's',
  tool_calls: [],
  usage: { prompt_tokens: 0, completion_tokens: 0 },
});

/** A run whose events the test releases one by one with `push`, ended by `end`. */
function controlledRun(sequence = 1) {
  const queue: TurnEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = 0;
  const controller = new AbortController();
  async function* events(): AsyncGenerator<TurnEvent> {
    for (;;) {
      while (queue.length > 0) {
        const event = queue.shift() as TurnEvent;
        yield event;
        if (event.event === 'done' || event.event === 'error') return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  const run: TurnRun = {
    sessionId: 's',
    sequence,
    stream: true,
    events: events(),
    controller,
    continues: false,
    finish: () => {
      finished += 1;
    },
  };
  return {
    run,
    controller,
    push(event: TurnEvent) {
      queue.push(event);
      wake?.();
    },
    get finished() {
      return finished;
    },
  };
}

/** A stream-like follower that records what it gets. */
function recorder(waitsForApproval = true) {
  const got: string[] = [];
  let closed = false;
  const subscriber: Subscriber = {
    waitsForApproval,
    deliver: (event) => got.push(event.event),
    close: () => {
      closed = true;
    },
    ping: () => got.push('ping'),
  };
  return {
    subscriber,
    got,
    get closed() {
      return closed;
    },
  };
}

const channelsOn = (clock: Clock, maxFollowers = 16) =>
  createTurnChannels({ approvalTimeout: 60_000, resumeGrace: 30_000, keepAlive: 15_000, maxFollowers, clock });

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const token = (content: string): TurnEvent => ({ event: 'token', data: { content } });

/** A run followed from its start, which has sent one token. */
async function followedAfterOneToken() {
  const clock = createManualClock();
  const channels = channelsOn(clock);
  const run = controlledRun();
  const follower = recorder();
  channels.run(run.run, follower.subscriber);
  run.push(token('a'));
  await settle();
  return { clock, channels, run, follower };
}

/** A run whose only follower left after its first token. */
async function leftAfterOneToken() {
  const followed = await followedAfterOneToken();
  followed.channels.detach('s', followed.follower.subscriber);
  return followed;
}

/** A turn of sequence 1 whose step waits on approvals, with one stream waiting for it. */
async function waitingOnApproval() {
  const clock = createManualClock();
  const channels = channelsOn(clock);
  const waiting = recorder(true);
  const run = controlledRun(1);
  channels.run(run.run, waiting.subscriber);
  run.push({ event: 'done', data: response(true) });
  await settle();
  return { clock, channels, waiting };
}

describe('the turn channels on an injected clock', () => {
  it('writes a keep-alive only after keepAlive of silence, and not while events flow', async () => {
    const { clock, channels, run, follower } = await followedAfterOneToken();
    await clock.advance(10_000);
    expect(follower.got).toEqual(['token']);
    await clock.advance(5_000);
    expect(follower.got).toEqual(['token', 'ping']);
    run.push({ event: 'done', data: response(false) });
    await settle();
    expect(follower.got).toEqual(['token', 'ping', 'done']);
    expect(follower.closed).toBe(true);
    expect(run.finished).toBe(1);
    channels.close();
  });

  it('holds a stream through an approval wait until approvalTimeout, then sends the held done and closes it', async () => {
    const clock = createManualClock();
    const channels = channelsOn(clock);
    const run = controlledRun();
    const stream = recorder(true);
    const json = recorder(false);
    channels.run(run.run, stream.subscriber);
    channels.attach('s', json.subscriber, { sequence: 1, index: -1 });
    run.push({ event: 'done', data: response(true) });
    await settle();
    expect(json.got).toEqual(['done']);
    expect(json.closed).toBe(true);
    expect(stream.got).toEqual([]);
    expect(channels.hasWaitingStream('s')).toBe(true);
    await clock.advance(59_000);
    expect(stream.closed).toBe(false);
    await clock.advance(1_000);
    expect(stream.got.filter((event) => event !== 'ping')).toEqual(['done']);
    expect(stream.closed).toBe(true);
    expect(channels.hasWaitingStream('s')).toBe(false);
    channels.close();
  });

  it('a stream that joins a wait later still counts as waiting after the first one was let go', async () => {
    const { clock, channels, waiting: first } = await waitingOnApproval();
    await clock.advance(30_000);
    const later = recorder(true);
    expect(channels.attach('s', later.subscriber, { sequence: 1, index: -1 })).toBe('following');
    await clock.advance(30_000);
    expect(first.closed).toBe(true);
    expect(later.closed).toBe(false);
    expect(channels.hasWaitingStream('s')).toBe(true);
    channels.close();
  });

  it("a new turn ends the old turn's waits: its streams get the held done and close", async () => {
    const { channels, waiting } = await waitingOnApproval();
    channels.run(controlledRun(2).run, recorder().subscriber);
    expect(waiting.got).toEqual(['done']);
    expect(waiting.closed).toBe(true);
    channels.close();
  });

  it('stops a run nobody follows once the resume grace is over, not before', async () => {
    const { clock, channels, run } = await leftAfterOneToken();
    await clock.advance(29_000);
    expect(run.controller.signal.aborted).toBe(false);
    await clock.advance(2_000);
    expect(run.controller.signal.aborted).toBe(true);
    channels.close();
  });

  it('a follower that comes back within the grace keeps the run going and gets what it missed', async () => {
    const { clock, channels, run } = await leftAfterOneToken();
    run.push(token('b'));
    await settle();
    await clock.advance(20_000);
    const again = recorder();
    expect(channels.attach('s', again.subscriber, { sequence: 1, index: 0 })).toBe('following');
    expect(again.got).toEqual(['token']);
    await clock.advance(60_000);
    expect(run.controller.signal.aborted).toBe(false);
    run.push({ event: 'done', data: response(false) });
    await settle();
    expect(again.got.filter((event) => event !== 'ping')).toEqual(['token', 'done']);
    channels.close();
  });

  it('a wait that starts after an idle spell (no ticker running) still lasts the whole approvalTimeout', async () => {
    const clock = createManualClock();
    const channels = channelsOn(clock);
    // The clock moves on while the hub runs no timer, as a server does between its users.
    await clock.advance(3_600_000);
    const run = controlledRun();
    const stream = recorder(true);
    channels.run(run.run, stream.subscriber);
    run.push({ event: 'done', data: response(true) });
    await settle();
    await clock.advance(59_000);
    expect(stream.closed).toBe(false);
    expect(stream.got.filter((event) => event !== 'ping')).toEqual([]);
    await clock.advance(1_000);
    expect(stream.got.filter((event) => event !== 'ping')).toEqual(['done']);
    expect(stream.closed).toBe(true);
    channels.close();
  });

  it('runs no timer when nothing is followed or running', async () => {
    const clock = createManualClock();
    const channels = channelsOn(clock);
    const run = controlledRun();
    channels.run(run.run, recorder().subscriber);
    expect(clock.timers).toBe(1);
    run.push({ event: 'done', data: response(false) });
    await settle();
    // The finished turn's log is kept for a late resume, then dropped with the ticker.
    await clock.advance(120_000);
    expect(clock.timers).toBe(0);
  });
});
