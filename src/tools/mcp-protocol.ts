import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation/index.js';

/**
 * The SDK handles a notification one microtask late but a response at once, and forgets a call's
 * progress handler with its response: progress sent just before a result is lost. Handing each
 * response to the SDK a task later keeps the server's order.
 */
export function deliverResponsesAfterNotifications(transport: Transport) {
  const deliver = transport.onmessage;
  if (!deliver) return;
  transport.onmessage = (message, extra) => {
    if ('id' in message && ('result' in message || 'error' in message)) setTimeout(() => deliver(message, extra), 0);
    else deliver(message, extra);
  };
}

/** Every tool of the server, across pages. */
export async function listAllTools(client: Client, options?: RequestOptions): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined, options);
    tools.push(...page.tools);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** A POSIX path as a file: URI, each segment encoded. */
export const fileUri = (directory: string) => `file://${directory.split('/').map(encodeURIComponent).join('/')}`;

/**
 * The SDK compiles every tool's output schema into a validator each time it lists tools (the
 * filesystem server has 14), in an Ajv instance of each connection's own. This compiles a
 * schema, and makes the instance, when a result of that tool first needs checking: the same
 * checks, paid for only by the tools that run. A schema Ajv cannot compile then fails that call
 * (the SDK reports it as the call's error) rather than the whole listing.
 */
export function validatingOnFirstUse(create: () => jsonSchemaValidator): jsonSchemaValidator {
  let validator: jsonSchemaValidator | undefined;
  return {
    getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
      let validate: JsonSchemaValidator<T> | undefined;
      return (input) => {
        validator ??= create();
        validate ??= validator.getValidator<T>(schema);
        return validate(input);
      };
    },
  };
}
