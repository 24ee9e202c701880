import { createHash } from 'node:crypto';

/** The directives of a Content-Security-Policy header, by name. */
export function directives(header: string | null): Record<string, string[]> {
  const parsed: Record<string, string[]> = {};
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) parsed[name] = values;
  }
  return parsed;
}

/** The CSP source that allows an inline script or style with exactly this text. */
export const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
