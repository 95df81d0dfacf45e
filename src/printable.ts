/**
 * Text that came from outside (provider messages, names stored in the database, file
 * contents) is printed only after this: control characters (escape sequences that clear the
 * screen, recolour, retitle the window, move the cursor) become visible `\xNN`, and
 * newlines and tabs become spaces so one value stays on one line.
 */
export function printable(text: string): string {
  // C0 controls, DEL, C1 controls (0x80-0x9f: NEL and the 8-bit CSI), the line and paragraph
  // separators (U+2028/2029, line breaks to some terminals and viewers), and the bidi marks and
  // overrides that reorder what a terminal shows (U+200E/F, U+202A-E, U+2066-9): all as \u{...}.
  return text
    .replace(/[\t\n\r]+/g, ' ')
    .replace(
      /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
      (ch) => `\\u{${ch.charCodeAt(0).toString(16)}}`,
    );
}
