/**
 * Credentials never appear in what berth writes: every message, metric label and snapshot
 * string it builds from user input passes through `redact`, which masks the user-info part
 * of `scheme://user:pass@host` and `user:pass@host` (the password, and the user name with it,
 * become `***`). What the user passed in (an error's `cause`, say) stays as it was thrown.
 */

/**
 * A user-info part: after the start of the text, a delimiter or `scheme://`, a run of
 * characters that are not delimiters, up to the last `@` before the next delimiter.
 * Greedy so that a password with an `@` in it is masked whole.
 */
const USER_INFO = /(^|[\s'"`(<[{=,;]|[A-Za-z][A-Za-z0-9+.-]*:\/\/)([^\s'"`()<>[\]{},;/]*)@/g;

/** `text` with every `user:pass@` (and `scheme://user:pass@`) masked as `***@`. */
export function redact(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(USER_INFO, (_match, lead: string) => `${lead}***@`);
}
