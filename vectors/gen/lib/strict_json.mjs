// A small, independent strict JSON reader and Matrix canonical-JSON writer (PROTOCOL.md §1).
//
// Reader: RFC 8259 grammar on UTF-8 bytes, plus the protocol's refusals: invalid UTF-8
// (including a BOM, which is not JSON whitespace), fractions, exponents, -0, integers outside
// ±(2^53-1), duplicate object keys (compared after unescaping), \u escapes leaving a lone
// surrogate, raw control characters in strings, trailing garbage.
// Value model: null / true / false / BigInt (integers) / string / Array / Map (objects, in
// document order).
//
// Writer: keys sorted by Unicode code point, no whitespace, escapes \" \\ \b \f \n \r \t and
// \u00xx (lowercase) for other characters < 0x20, everything else raw.

const MAX_SAFE = 9007199254740991n;

export class JsonError extends Error {}

export function parseStrict(input) {
  let text;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      // ignoreBOM: keep a leading U+FEFF so that the grammar refuses it.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      throw new JsonError('invalid UTF-8');
    }
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      else throw new JsonError('lone surrogate in input text');
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new JsonError('lone surrogate in input text');
  }
  let pos = 0;
  const fail = (msg) => {
    throw new JsonError(`${msg} at offset ${pos}`);
  };
  const ws = () => {
    while (pos < text.length) {
      const c = text[pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') pos++;
      else break;
    }
  };
  const lit = (word, val) => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return val;
    }
    fail('unexpected token');
  };
  function parseString() {
    if (text[pos] !== '"') fail('expected string');
    pos++;
    let out = '';
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text[pos];
      const cc = text.charCodeAt(pos);
      if (c === '"') {
        pos++;
        break;
      }
      if (cc < 0x20) fail('raw control character in string');
      if (c !== '\\') {
        out += c;
        pos++;
        continue;
      }
      pos++;
      const e = text[pos];
      pos++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const u4 = () => {
            const h = text.slice(pos, pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
            pos += 4;
            return parseInt(h, 16);
          };
          const u = u4();
          if (u >= 0xd800 && u <= 0xdbff) {
            if (text[pos] !== '\\' || text[pos + 1] !== 'u') fail('lone high surrogate escape');
            pos += 2;
            const l = u4();
            if (!(l >= 0xdc00 && l <= 0xdfff)) fail('high surrogate not followed by low surrogate');
            out += String.fromCharCode(u, l);
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            fail('lone low surrogate escape');
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          fail('bad escape');
      }
    }
    return out;
  }
  function parseNumber() {
    const m = /^-?(0|[1-9][0-9]*)/.exec(text.slice(pos, pos + 400));
    if (!m) fail('bad number');
    const s = m[0];
    pos += s.length;
    const next = text[pos];
    if (next === '.' || next === 'e' || next === 'E') fail('fractions and exponents are refused');
    if (next !== undefined && /[0-9]/.test(next)) fail('leading zero');
    if (s === '-0') fail('-0 is refused');
    const v = BigInt(s);
    if (v > MAX_SAFE || v < -MAX_SAFE) fail('integer out of range');
    return v;
  }
  function parseValue(depth) {
    if (depth > 512) fail('too deep');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const m = new Map();
      ws();
      if (text[pos] === '}') {
        pos++;
        return m;
      }
      for (;;) {
        ws();
        const k = parseString();
        if (m.has(k)) fail(`duplicate key ${JSON.stringify(k)}`);
        ws();
        if (text[pos] !== ':') fail('expected :');
        pos++;
        m.set(k, parseValue(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return m;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      pos++;
      const a = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return a;
      }
      for (;;) {
        a.push(parseValue(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return a;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return parseString();
    if (c === 't') return lit('true', true);
    if (c === 'f') return lit('false', false);
    if (c === 'n') return lit('null', null);
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    fail('unexpected character');
  }
  const v = parseValue(0);
  ws();
  if (pos !== text.length) fail('trailing characters');
  return v;
}

// Compare two (well-formed) strings by Unicode code point, not by UTF-16 code unit.
export function compareCodePoints(a, b) {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done && y.done) return 0;
    if (x.done) return -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0);
    const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function canonString(s) {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp >= 0xd800 && cp <= 0xdfff) throw new JsonError('lone surrogate');
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp === 0x08) out += '\\b';
    else if (cp === 0x0c) out += '\\f';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp === 0x09) out += '\\t';
    else if (cp < 0x20) out += '\\u00' + cp.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

export function canonicalize(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'bigint') {
    if (v > MAX_SAFE || v < -MAX_SAFE) throw new JsonError('integer out of range');
    return v.toString();
  }
  if (typeof v === 'string') return canonString(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalize).join(',') + ']';
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(compareCodePoints);
    return '{' + keys.map((k) => canonString(k) + ':' + canonicalize(v.get(k))).join(',') + '}';
  }
  throw new JsonError(`unsupported value ${typeof v}`);
}

// Structural equality of two values of the model above (Map order ignored).
export function deepEqual(a, b) {
  if (typeof a !== typeof b) return false;
  if (a === null || b === null) return a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, x] of a) if (!b.has(k) || !deepEqual(x, b.get(k))) return false;
    return true;
  }
  return a === b;
}
