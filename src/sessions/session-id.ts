/** What a session id may look like; ids from clients are checked against it before any lookup. */
export const sessionIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** 256 random bits, base64url: 43 characters of `[A-Za-z0-9_-]`. */
export function randomSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}
