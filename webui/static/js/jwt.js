// Finds raw JWTs in pasted text, so that the search sends, shows and keeps
// only their fingerprints. The rules follow the server's own check for a
// raw JWT in event fields (findJWT in audit/sanitize.go), and err on the
// side of treating text as a token.

const BASE64URL = /[A-Za-z0-9_-]/;

// findToken returns the first compact JWS (three segments) or JWE (five)
// in text, with "%2E" separators turned into dots, or '' when there is
// none. The token may sit anywhere: in quotes, after "Bearer " or
// "access_token=", or inside a longer log line. A header is at least 10
// characters that start with "eyJ" or decode to a JSON object. The second
// segment, a JWS payload, is at least 2 characters, except in a JWE, where
// it is the encrypted key and empty for direct encryption ("alg":"dir").
export function findToken(text) {
  for (const start of headerStarts(text)) {
    const segments = segmentsAt(text, start);
    if (segments.length < 3 || segments[0].length < 10) continue;
    if (segments[1].length < 2 && segments.length !== 5) continue;
    if (segments[0].startsWith('eyJ') || isJSONObject(segments[0])) return segments.join('.');
  }
  return '';
}

function* headerStarts(text) {
  const pattern = /e[yw]/g;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    yield match.index;
    pattern.lastIndex = match.index + 1;
  }
}

// segmentsAt reads up to five dot-separated base64url segments from
// text[start]. An empty segment after the third is dropped with its dot,
// because that dot ends a sentence rather than the token.
function segmentsAt(text, start) {
  const segments = [];
  let i = start;
  for (;;) {
    let end = i;
    while (end < text.length && BASE64URL.test(text[end])) end++;
    if (end === i && segments.length >= 3) break;
    segments.push(text.slice(i, end));
    const separator = separatorAt(text, end);
    if (segments.length === 5 || separator === 0) break;
    i = end + separator;
  }
  return segments;
}

// separatorAt returns the length of the separator at text[i]: 1 for a dot,
// 3 for "%2E" (a dot in URL encoding), 0 for anything else.
function separatorAt(text, i) {
  if (text[i] === '.') return 1;
  if (text.slice(i, i + 3).toUpperCase() === '%2E') return 3;
  return 0;
}

function isJSONObject(segment) {
  try {
    const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '=')), (c) => c.charCodeAt(0));
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

// fingerprint returns the token's SHA-256 in lowercase hex, as tokentrail
// stores it, or '' where the browser offers no digest (a page served over
// plain HTTP from an address other than loopback).
export async function fingerprint(token) {
  if (!globalThis.crypto || !crypto.subtle) return '';
  const sum = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return Array.from(new Uint8Array(sum), (b) => b.toString(16).padStart(2, '0')).join('');
}
