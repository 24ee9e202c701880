/**
 * A value made at its first use and shared from then on, typically a module: `lazy(() =>
 * import('openai'))`. What start-up does not need stays out of it, and a server that never
 * takes that path never pays for it. A failed load is not retried.
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}
