/** One parsed SSE event. */
export interface ParsedEvent {
  event: string;
  id: string;
  data: any;
}

/** Parses SSE text into events, checking each has exactly event, id and one data line. */
export function parseSse(text: string): ParsedEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const fields = Object.fromEntries(
        block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      );
      if (block.split('\n').length !== 3) throw new Error(`not a three-line event: ${JSON.stringify(block)}`);
      return { event: fields.event, id: fields.id, data: JSON.parse(fields.data) };
    });
}

/** The exact frame the server writes for an event. */
export const frame = (event: string, id: string, data: unknown) =>
  `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

/** Reads a streamed response bit by bit: `until` reads until a condition on the text so far holds. */
export function openStream(response: Response) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  const readMore = async () => {
    const { done, value } = await reader.read();
    if (done) ended = true;
    else text += decoder.decode(value, { stream: true });
  };
  return {
    /** Reads until `condition(all text so far)` holds; returns the text read by this call. */
    async until(condition: (text: string) => boolean, timeout = 5000): Promise<string> {
      const from = text.length;
      const deadline = Date.now() + timeout;
      while (!condition(text)) {
        if (ended) throw new Error(`the stream ended; got:\n${text}`);
        if (Date.now() > deadline) throw new Error(`timed out; got so far:\n${text}`);
        await readMore();
      }
      return text.slice(from);
    },
    /** Reads to the end; returns the text read by this call. */
    async rest(): Promise<string> {
      const from = text.length;
      while (!ended) await readMore();
      return text.slice(from);
    },
    cancel: () => reader.cancel(),
    text: () => text,
  };
}

/** Counters for deterministic ids: sessions s1, s2…; requests r1, r2…. */
export function sequentialIds() {
  let sessions = 0;
  let requests = 0;
  return {
    newSessionId: () => `s${++sessions}`,
    newRequestId: () => `r${++requests}`,
  };
}
