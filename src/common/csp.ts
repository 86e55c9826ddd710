/**
 * The renderer's Content-Security-Policy, one definition for the `<meta>` tag
 * the Vite build writes (file:// in Electron has no response headers) and the
 * header the headless host sends. `frame-ancestors` only works as a header.
 */
const DIRECTIVES = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
];

/** For the `<meta http-equiv>` tag. */
export const META_CONTENT_SECURITY_POLICY = DIRECTIVES.join('; ');

/** For the HTTP header: the same policy, and the page may not be framed. */
export const HEADER_CONTENT_SECURITY_POLICY = [...DIRECTIVES, "frame-ancestors 'none'"].join('; ');
