import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The text a model reads for an MCP tool result: text parts as they are, other parts described. */
export function toolResultText(result: CallToolResult): string {
  const parts = (result.content ?? []).map((part) => {
    switch (part.type) {
      case 'text':
        return part.text;
      case 'image':
      case 'audio':
        return `[${part.type} ${part.mimeType}, ${part.data.length} base64 characters]`;
      case 'resource':
        return 'text' in part.resource ? String(part.resource.text) : `[resource ${part.resource.uri}]`;
      case 'resource_link':
        return `[resource link ${part.uri}]`;
      default:
        return '';
    }
  });
  const text = parts.filter(Boolean).join('\n');
  if (text === '' && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return text;
}

/** Cuts a tool result to `limit` characters with a notice the model can read. */
export function truncateResult(text: string, limit: number): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}\n[truncated: the tool returned ${text.length} characters; only the first ${limit} are shown]`;
}
