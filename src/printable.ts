/**
 * Text that came from outside (provider messages, names stored in the database, file
 * contents) is printed only after this: control characters (escape sequences that clear the
 * screen, recolour, retitle the window, move the cursor) become visible `\xNN`, and
 * newlines and tabs become spaces so one value stays on one line.
 */
export function printable(text: string): string {
  // C0 controls, DEL, C1 controls (0x80-0x9f include the 8-bit CSI), and the bidi overrides that reorder what a terminal shows.
  return text.replace(/[\t\n\r]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}
