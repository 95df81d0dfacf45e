/**
 * One JSON document written as it goes, for the commands whose results can be a million long
 * (doctor's findings, quarantine's targets, verify-provider's results): `version` and `command`
 * first, then fields and arrays in order, `ok` last. Long arrays get one compact element per
 * line, so memory holds one element at a time.
 *
 * If anything fails after the document has started (an error, a signal), `fail` closes what is
 * open and ends it with `"error": {...}, "ok": false`: stdout always carries exactly one valid
 * document.
 *
 * Text is gathered as UTF-8 bytes in one reusable buffer and handed on in segments of whole
 * elements (a secret inside a string is never split between two segments, so the run's
 * redactor, applied per segment, sees it whole). Elements of the hot paths are written field by
 * field into that buffer (`itemWith`): a million findings create no string per finding, which
 * is what keeps the garbage collector's young generation, and so memory, small.
 */
import { DOCUMENT_VERSIONS, type CommandName, type DocumentError } from './document.js';

/** Bytes gathered before a segment is handed on. */
const SEGMENT_BYTES = 1 << 16;

// Declared in document.ts (its documentError builds one, and this module imports it); still exported here.
export type { DocumentError } from './document.js';

/** Writes one compact JSON element's parts into the document's buffer. */
export interface JsonElementWriter {
  /** Text written as it is (punctuation, field names, numbers: the caller makes it valid JSON). */
  raw(text: string): void;
  /** A JSON string (escaped as JSON.stringify would), or `null`. */
  string(value: string | null): void;
}

/**
 * Text gathered as UTF-8 in one reusable buffer, handed on (`emit`) in segments of at least
 * SEGMENT_BYTES, only at boundaries the writer marks (`boundary`): never inside an element or a
 * line, so a redactor applied per segment sees every string whole.
 */
export class ByteSegments {
  private bytes = Buffer.allocUnsafe(SEGMENT_BYTES * 2);
  private used = 0;

  constructor(private readonly emit: (bytes: Buffer, length: number) => void) {}

  write(text: string): void {
    // At most 3 bytes per UTF-16 unit.
    if (this.used + text.length * 3 > this.bytes.length) this.reserve(text.length * 3);
    this.put(text);
  }

  /** Short ASCII text byte by byte (cheaper than a call into Buffer.write for the dozens of parts of an element). */
  private put(text: string): void {
    const bytes = this.bytes;
    let at = this.used;
    if (text.length <= 64) {
      let i = 0;
      for (; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) break;
        bytes[at++] = code;
      }
      if (i === text.length) {
        this.used = at;
        return;
      }
      at = this.used;
    }
    this.used = at + bytes.write(text, at, 'utf8');
  }

  /** A JSON string (escaped as JSON.stringify would), or `null`. */
  jsonString(value: string | null): void {
    if (value === null) {
      this.write('null');
      return;
    }
    if (needsEscaping(value)) {
      this.write(JSON.stringify(value));
      return;
    }
    if (this.used + value.length * 3 + 2 > this.bytes.length) this.reserve(value.length * 3 + 2);
    this.bytes[this.used++] = 0x22;
    this.put(value);
    this.bytes[this.used++] = 0x22;
  }

  private reserve(more: number): void {
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + more));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  /** A segment may end here (between two elements or lines). */
  boundary(): void {
    if (this.used >= SEGMENT_BYTES) this.flush();
  }

  flush(): void {
    if (this.used === 0) return;
    const used = this.used;
    this.used = 0;
    this.emit(this.bytes, used);
  }
}

export class JsonDocumentWriter {
  private readonly out: ByteSegments;
  private openArray: { count: number } | null = null;
  private state: 'open' | 'ended' = 'open';
  private readonly element: JsonElementWriter;

  constructor(
    /** Receives each segment: its bytes (valid until the call returns) and how many. */
    emit: (bytes: Buffer, length: number) => void,
    readonly command: CommandName,
    private readonly onEnd: () => void = () => {},
  ) {
    this.out = new ByteSegments(emit);
    this.element = { raw: (text) => this.out.write(text), string: (value) => this.out.jsonString(value) };
    this.write(`{\n  "version": ${DOCUMENT_VERSIONS[command]},\n  "command": ${JSON.stringify(command)}`);
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  /** A field whose value is written whole (pretty-printed, as the rest of lmnr-keys's JSON). */
  field(name: string, value: unknown): void {
    this.closeArray();
    if (value === undefined) return;
    this.write(`,\n  ${JSON.stringify(name)}: ${indent(JSON.stringify(value, null, 2) ?? 'null')}`);
    this.endOfElement();
  }

  /** Opens an array field; `item` appends to it until the next field, `endArray` or the end. */
  beginArray(name: string): void {
    this.closeArray();
    this.write(`,\n  ${JSON.stringify(name)}: [`);
    this.openArray = { count: 0 };
  }

  item(value: unknown): void {
    this.itemWith((out) => out.raw(JSON.stringify(value) ?? 'null'));
  }

  /** An element written part by part (one compact line): see JsonElementWriter. */
  itemWith(write: (out: JsonElementWriter) => void): void {
    const array = this.openArray;
    if (array === null) throw new Error('no array is open');
    this.write(array.count === 0 ? '\n    ' : ',\n    ');
    write(this.element);
    array.count += 1;
    this.endOfElement();
  }

  endArray(): void {
    this.closeArray();
  }

  /** Ends the document: `"ok"` is its last field. */
  end(ok: boolean): void {
    if (this.state === 'ended') return;
    this.closeArray();
    this.write(`,\n  "ok": ${ok}\n}\n`);
    this.finish();
  }

  /** Ends a document that could not be completed: open arrays closed, then the error and `"ok": false`. */
  fail(error: DocumentError): void {
    if (this.state === 'ended') return;
    this.closeArray();
    this.write(`,\n  "error": ${indent(JSON.stringify(error, null, 2))},\n  "ok": false\n}\n`);
    this.finish();
  }

  private closeArray(): void {
    if (this.openArray === null) return;
    this.write(this.openArray.count === 0 ? ']' : '\n  ]');
    this.openArray = null;
  }

  private write(text: string): void {
    if (this.state === 'ended') throw new Error('the document has ended');
    this.out.write(text);
  }

  /** A segment is handed on only between elements, never inside one. */
  private endOfElement(): void {
    this.out.boundary();
  }

  private finish(): void {
    this.out.flush();
    this.state = 'ended';
    this.onEnd();
  }
}

/**
 * Whether JSON.stringify would write `value` other than between two quotes: a quote, a
 * backslash, a control character, or a lone surrogate (written as \u escapes).
 */
function needsEscaping(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x22 || code === 0x5c) return true;
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i += 1;
      else return true;
    }
  }
  return false;
}

/** A nested value's lines, indented to sit at the document's second level. */
function indent(json: string): string {
  return json.replace(/\n/g, '\n  ');
}
