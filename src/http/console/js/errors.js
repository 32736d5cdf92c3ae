// Errors in words. The API's `extensions.code` says what kind of refusal it
// is (stable); its message says the particulars (may change), and is shown
// where it helps a person put things right.

/** An error from the API, the network, or storage, with a stable `code`. */
export class ApiError extends Error {
  /**
   * @param {string} code  `extensions.code`, or NETWORK / HTTP_<status> / BAD_RESPONSE
   * @param {string} message  the server's message (or ours)
   */
  constructor(code, message) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** @type {Record<string, string>} */
const WORDS = {
  UNAUTHENTICATED: 'You are not signed in (or your session ended). Please log in again.',
  FORBIDDEN: 'Your account is not allowed to do that.',
  NOT_FOUND: 'That no longer exists.',
  BAD_USER_INPUT: 'The server refused this',
  PAYLOAD_TOO_LARGE: 'That is too large',
  UNSUPPORTED_MEDIA_TYPE: 'This is not an image the server accepts',
  TOO_MANY_REQUESTS: 'Too many attempts. Please wait a little and try again',
  QUOTA_EXCEEDED: 'Your plan does not allow more',
  STORAGE_UNAVAILABLE: 'Image storage is unavailable right now. Please try again later.',
  INTERNAL: 'Something went wrong on the server. Please try again later.',
  NETWORK: 'The server cannot be reached. Check your connection and try again.',
  BAD_RESPONSE: 'The server answered with something unexpected.',
  STORAGE_REFUSED: 'Image storage refused the file. Please try again.',
  ABORTED: 'Cancelled.',
};

/** Codes whose server message carries the useful particulars. */
const WITH_DETAILS = new Set(['BAD_USER_INPUT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'TOO_MANY_REQUESTS', 'QUOTA_EXCEEDED']);

/**
 * A sentence for a person. `during` adjusts it where the same code means
 * something else (a refused login is a wrong password, not an ended session).
 * @param {unknown} err
 * @param {{ during?: 'login' | 'upload' }} [opts]
 * @returns {string}
 */
export function describe(err, opts = {}) {
  if (!(err instanceof ApiError)) {
    return `Something went wrong: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (opts.during === 'login' && err.code === 'UNAUTHENTICATED') {
    return 'Wrong username or password.';
  }
  if (missingApi(err)) return 'This server does not offer that yet (it may need an upgrade).';
  const words = WORDS[err.code];
  if (!words) {
    if (err.code.startsWith('HTTP_')) return `The server answered ${err.code.slice(5)}: ${err.message}`;
    return `${err.message} (${err.code})`;
  }
  if (WITH_DETAILS.has(err.code) && err.message) return `${words}: ${sentence(err.message)}`;
  return words;
}

/** @param {string} s */
function sentence(s) {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/**
 * Whether the server did not know a field or argument we asked for (an older
 * server than this console): pages built on newer API say so instead of failing.
 * @param {unknown} err
 */
export function missingApi(err) {
  return err instanceof ApiError && /unknown (field|argument|type)|cannot query field/i.test(err.message);
}
