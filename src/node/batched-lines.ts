/**
 * Lines written together: every line given during one turn of the event loop leaves in one write,
 * at the end of that turn (`defer`), in order. Under load a request log costs one write call per
 * burst instead of one per request: on Linux, writes to a pipe or a file are synchronous, each a
 * system call on the request path. `flush` writes what waits at once (at exit, before a fatal line).
 */
export function batchedLines(
  write: (text: string) => void,
  defer: (task: () => void) => void = (task) => setImmediate(task),
) {
  let waiting: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (waiting.length === 0) return;
    const text = `${waiting.join('\n')}\n`;
    waiting = [];
    write(text);
  };
  return {
    line(line: string) {
      waiting.push(line);
      if (scheduled) return;
      scheduled = true;
      defer(flush);
    },
    flush,
  };
}
