// Text from the server that the person will read: the pre-login banner (RFC 4252 §5.4) and
// keyboard-interactive names, instructions and prompts (RFC 4256 §3.2). RFC 4252 §5.4 warns that
// a banner may carry terminal control sequences; ours go to xterm.js, where an escape sequence
// could retitle the window, move the cursor over the real prompt or write to the clipboard
// (OSC 52). So: escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte ESC forms) are
// removed whole, then every other C0/C1 control and DEL, and the Unicode bidi overrides that
// could make text read differently from what it is (U+202A–U+202E, U+2066–U+2069). Kept:
// newline and tab. CR LF and lone CR become LF. Cut at `maxChars` with a note saying so.

/** The banner limit: OpenSSH sends a Banner file whole; 64 KiB is more than any real one. */
export const BANNER_MAX_CHARS = 64 * 1024;

const STRING_SEQ = /\x1b[P\]X^_][\s\S]*?(?:\x07|\x1b\\|\x9c|$)|[\x90\x98\x9d\x9e\x9f][\s\S]*?(?:\x07|\x1b\\|\x9c|$)/g;
const CSI_SEQ = /(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?/g;
const ESC_SEQ = /\x1b[\x20-\x2f]*[\x30-\x7e]?/g;
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

export function displayText(text: string, maxChars: number): string {
  let s = text
    .replace(/\r\n?/g, '\n')
    .replace(STRING_SEQ, '')
    .replace(CSI_SEQ, '')
    .replace(ESC_SEQ, '')
    .replace(CONTROLS, '');
  if (s.length > maxChars) s = `${s.slice(0, maxChars)}\n[… cut at ${maxChars} characters]`;
  return s;
}
