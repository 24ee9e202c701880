/** How an iteration ended: it ran to its end, it threw, or its consumer left before the end. */
export type IterationEnd = { how: 'completed' } | { how: 'failed'; error: unknown } | { how: 'left' };

export interface IterationWatch<T> {
  /** Each value, as it is handed to the consumer. Must not throw. */
  value?(value: T): void;
  /** Once, when the iteration ends, before the consumer hears of it. Must not throw. */
  end(ended: IterationEnd): void;
}

/**
 * `source`'s values, each shown to `watch` as it passes, then its end. What an `async function*`
 * wrapper with a `finally` does, without its cost: no generator and no `await` per value, one
 * `then`. It sits on the per-token path, where each wrapping generator cost some 0.15 µs a token.
 */
export function watchIteration<T>(source: AsyncIterable<T>, watch: IterationWatch<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (how: IterationEnd) => {
    if (ended) return;
    ended = true;
    watch.end(how);
  };
  const passed = (result: IteratorResult<T>) => {
    if (result.done) end({ how: 'completed' });
    else watch.value?.(result.value);
    return result;
  };
  const failed = (error: unknown): never => {
    end({ how: 'failed', error });
    throw error;
  };
  const watched: AsyncGenerator<T> = {
    next: () => (ended ? Promise.resolve({ done: true, value: undefined }) : iterator.next().then(passed, failed)),
    async return(value) {
      if (!ended) {
        end({ how: 'left' });
        await iterator.return?.(value);
      }
      return { done: true, value: value as T };
    },
    async throw(error) {
      if (ended || !iterator.throw) throw error;
      return iterator.throw(error).then(passed, failed);
    },
    [Symbol.asyncIterator]: () => watched,
  };
  return watched;
}
