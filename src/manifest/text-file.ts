/** Turn a file's bytes into text, refusing binary data and invalid UTF-8 with the line where it starts. */
import { isUtf8 } from 'node:buffer';

/** Why bytes are not a YAML text file. */
export interface TextProblem {
  line: number | null;
  message: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decode UTF-8 (a leading byte-order mark is dropped, as js-yaml would at the start of a stream). */
export function decodeText(data: Buffer): { text: string } | { problem: TextProblem } {
  const nul = data.indexOf(0);
  if (nul >= 0) {
    return { problem: { line: lineAt(data, nul), message: 'binary file: contains NUL bytes (not YAML text)' } };
  }
  if (!isUtf8(data)) {
    const offset = firstInvalidUtf8(data);
    return { problem: { line: lineAt(data, offset), message: `not valid UTF-8 (byte 0x${data[offset]?.toString(16).padStart(2, '0') ?? '??'} at offset ${offset})` } };
  }
  // The fatal decoder strips a leading BOM itself (ignoreBOM: false).
  return { text: decoder.decode(data) };
}

function lineAt(data: Buffer, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (data[i] === 0x0a) line += 1;
  return line;
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(data: Buffer): number {
  let i = 0;
  while (i < data.length) {
    const b = data[i];
    let need: number;
    let min: number;
    if (b < 0x80) {
      i += 1;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + need >= data.length) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = data[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return Math.max(0, data.length - 1);
}
