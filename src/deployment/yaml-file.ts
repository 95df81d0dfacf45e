/**
 * YAML through the maintained `yaml` package, walked node by node so every value keeps its file
 * and line for messages. Anchors, aliases and `<<` merge keys (common in compose files) are
 * resolved here. An unparseable file is a ConfigError naming the file and the line.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from '../errors.js';

export interface YamlFile {
  doc: Document;
  /** The file as shown to the operator. */
  label: string;
  lineOf: (node: Node | null | undefined) => number | null;
}

export interface YamlEntry {
  key: string;
  value: Node | null;
  line: number | null;
}

// prettyErrors: errors carry linePos (the message gets a source excerpt, cut off below).
const PARSE_OPTIONS = { merge: true, prettyErrors: true, uniqueKeys: true } as const;

function toConfigError(
  label: string,
  error: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] },
  hint: string,
): ConfigError {
  const line = error.linePos?.[0]?.line;
  const message = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new ConfigError(`${label}${line ? `:${line}` : ''}: not valid YAML: ${message}`, hint);
}

function wrap(doc: Document, label: string, lineCounter: LineCounter): YamlFile {
  return {
    doc,
    label,
    lineOf: (node) => (node?.range ? lineCounter.linePos(node.range[0]).line : null),
  };
}

export function parseYamlFile(text: string, label: string, hint: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...PARSE_OPTIONS, lineCounter });
  const error = doc.errors[0];
  if (error) throw toConfigError(label, error, hint);
  return wrap(doc, label, lineCounter);
}

/** Multi-document YAML (`---`), as `helm template` and `kubectl get -o yaml` print it. JSON is YAML too. */
export function parseYamlStream(text: string, label: string, hint: string): YamlFile[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...PARSE_OPTIONS, lineCounter });
  if (!Array.isArray(docs)) {
    // An empty stream.
    return [];
  }
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) throw toConfigError(label, error, hint);
  }
  return docs.map((doc) => wrap(doc as Document, label, lineCounter));
}

export function resolve(file: YamlFile, node: unknown): Node | null {
  let current = node;
  for (let depth = 0; isAlias(current) && depth < 32; depth++) current = current.resolve(file.doc);
  return (current as Node | null | undefined) ?? null;
}

const isMergeKey = (key: unknown): boolean =>
  isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<' || (key as { source?: string }).source === '<<');

/** A mapping's entries with aliases and `<<` merges resolved (explicit keys win over merged ones). Empty when not a mapping. */
export function entriesOf(file: YamlFile, node: unknown): YamlEntry[] {
  const map = resolve(file, node);
  if (!isMap(map)) return [];
  const explicit: YamlEntry[] = [];
  const merged: YamlEntry[] = [];
  for (const pair of map.items) {
    if (isMergeKey(pair.key)) {
      const sources = resolve(file, pair.value);
      const list = isSeq(sources) ? sources.items : [sources];
      for (const source of list)
        for (const entry of entriesOf(file, source)) if (!merged.some((m) => m.key === entry.key)) merged.push(entry);
      continue;
    }
    const keyNode = resolve(file, pair.key);
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    explicit.push({ key, value: resolve(file, pair.value), line: file.lineOf(keyNode) });
  }
  return [...merged.filter((m) => !explicit.some((e) => e.key === m.key)), ...explicit];
}

export function entry(file: YamlFile, node: unknown, key: string): YamlEntry | undefined {
  return entriesOf(file, node).find((e) => e.key === key);
}

/** A sequence's items (aliases resolved); undefined when not a sequence. */
export function itemsOf(file: YamlFile, node: unknown): Array<{ value: Node | null; line: number | null }> | undefined {
  const seq = resolve(file, node);
  if (!isSeq(seq)) return undefined;
  return seq.items.map((item) => {
    const value = resolve(file, item);
    return { value, line: file.lineOf(value) };
  });
}

/**
 * A scalar as text: the source characters of a plain scalar (so `0123` stays `0123` and a long
 * all-digit value is not turned into a float), the decoded value of a quoted one, null for YAML
 * null. Undefined when the node is not a scalar.
 */
export function scalarText(node: unknown): string | null | undefined {
  if (!isScalar(node)) return undefined;
  if (node.value === null) return null;
  if (node.type === 'PLAIN' && typeof (node as { source?: unknown }).source === 'string') return (node as { source: string }).source;
  return String(node.value);
}

/** Plain JavaScript for a node (used where lines do not matter). */
export function plain(file: YamlFile, node: unknown): unknown {
  const resolved = resolve(file, node);
  return resolved === null ? null : resolved.toJS(file.doc, { maxAliasCount: 1000 });
}

export function isMapping(file: YamlFile, node: unknown): boolean {
  return isMap(resolve(file, node));
}
