// canonical_json vectors (PROTOCOL.md §1, Matrix spec appendix "Canonical JSON").
// Valid cases: the input is embedded verbatim (so escapes, key order, whitespace and raw
// UTF-8 reach the reader as written); the expected string comes from Debian's
// python3-canonicaljson (../canonical_json.py, run with /usr/bin/python3) and must equal the
// independent JS canonicaliser of lib/strict_json.mjs.
// Error cases: refused by lib/strict_json.mjs (python's json/canonicaljson accept several of
// them — floats, -0, big integers, duplicate keys — which is why they are protocol rules).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { RawJSON, hex, utf8, utf8Decode, assert, assertEq } from '../lib/common.mjs';
import { parseStrict, canonicalize, JsonError } from '../lib/strict_json.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';

const CTRL_SHORT = { 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0c: 'f', 0x0d: 'r' };
const u4 = (cp, upper = false) => {
  const h = cp.toString(16).padStart(4, '0');
  return '\\u' + (upper ? h.toUpperCase() : h);
};

function validInputs() {
  const v = [];
  const add = (text, comment) => v.push({ text, comment });
  const SPEC = 'Matrix spec appendix "Canonical JSON" example';
  // --- Matrix specification examples (content/appendices.md), input text kept as written.
  add('{}', `${SPEC} 1: empty object`);
  add('{\n    "one": 1,\n    "two": "Two"\n}', `${SPEC} 2`);
  add('{\n    "b": "2",\n    "a": "1"\n}', `${SPEC} 3: key sorting`);
  add('{"b":"2","a":"1"}', `${SPEC} 4: key sorting, compact input`);
  add(
    '{\n    "auth": {\n        "success": true,\n        "mxid": "@john.doe:example.com",\n        "profile": {\n            "display_name": "John Doe",\n            "three_pids": [\n                {\n                    "medium": "email",\n                    "address": "john.doe@example.org"\n                },\n                {\n                    "medium": "msisdn",\n                    "address": "123456789"\n                }\n            ]\n        }\n    }\n}',
    `${SPEC} 5: nested objects and arrays`,
  );
  add('{\n    "a": "日本語"\n}', `${SPEC} 6: raw UTF-8 stays raw`);
  add('{\n    "本": 2,\n    "日": 1\n}', `${SPEC} 7: keys sorted by code point (U+65E5 < U+672C)`);
  add('{\n    "a": "\\u65E5"\n}', `${SPEC} 8: \\u escape (uppercase hex) becomes raw UTF-8`);
  add('{\n    "a": null\n}', `${SPEC} 9: null`);
  // (spec example 10, {"a": -0, "b": 1e10}, is an error case under PROTOCOL.md: see below)

  // --- Key ordering
  add('{"\\ud83d\\ude00": 2, "\\uffff": 1}', 'U+FFFF sorts before U+1F600 by code point (UTF-16 units would put the surrogate 0xD83D first)');
  add('{"😀": 2, "￿": 1}', 'same with raw UTF-8 keys');
  add('{"𐀀": 1, "\\ue000": 2, "\\ud7ff": 3, "\\uffff": 4, "\\u0080": 5}', 'U+D7FF < U+E000 < U+FFFF < U+10000 (code point order; UTF-16 would put U+10000 before U+E000)');
  add('{"ab": 1, "a": 2, "": 3, "aa": 4, "b": 5, "a\\u0000": 6, "a\\u0001b": 7}', 'keys with common prefixes: "" < "a" < "a\\u0000" < "a\\u0001b" < "aa" < "ab" < "b"');
  add('{"a": 1, "B": 2, "_": 3, "1": 4, " ": 5, "~": 6, "A": 7, "\\u007f": 8}', 'ASCII ordering: space, digits, uppercase, "_", lowercase, "~", DEL');
  add('{"é": 1, "e": 2, "z": 3, "日": 4, "😀": 5, "\\u0080": 6, "\\u07ff": 7, "\\u0800": 8, "\\uffff": 9, "\\ud800\\udc00": 10, "\\udbff\\udfff": 11}', 'keys across UTF-8 length classes (1-4 bytes), incl. U+10FFFF');
  add('{"b": {"d": 1, "c": 2}, "a": {"f": [ {"h": 1, "g": 2} ], "e": 3}}', 'sorting applies at every nesting level, also inside arrays; array order is kept');

  // --- Structure and scalars
  add('{"z": {"y": [3, {"b": 1, "a": []}], "x": {}}, "a": [[], [[]], {}, [{}]]}', 'nested objects and arrays, empty containers');
  add('[]', 'top-level empty array');
  add('""', 'top-level empty string');
  add('{"": ""}', 'empty key and empty value');
  add('[true, false, null]', 'literals in an array');
  add('true', 'top-level true');
  add('false', 'top-level false');
  add('null', 'top-level null');
  add('42', 'top-level number');
  add('"hello"', 'top-level string');
  add('[3, 1, 2]', 'top-level array keeps its order');
  add('[0, -1, 1, 9007199254740991, -9007199254740991, 10, -10, 1234567890]', 'integers, including ±(2^53-1)');
  add('9007199254740991', 'top-level 2^53-1');
  add('-9007199254740991', 'top-level -(2^53-1)');
  add('0', 'top-level zero');
  add('{"n": -1, "m": 0}', 'negative and zero integers as values');
  add(' \t\r\n{ "a" : [ 1 , 2 ] ,\n\t"b" : { } } \n', 'all four JSON whitespace characters removed');
  {
    const deep = '['.repeat(32) + '{"deep": ' + '['.repeat(32) + ']'.repeat(32) + '}' + ']'.repeat(32);
    add(deep, 'nesting depth 65 (32 arrays, an object, 32 arrays)');
  }

  // --- Strings and escapes
  add('"\\u00e9"', '\\u00e9 escape becomes raw é (UTF-8 c3 a9)');
  add('"\\u00E9t\\u00C9"', 'uppercase-hex escapes become raw characters');
  add('"é"', 'raw é stays raw');
  add('"a/b\\/c"', '"/" and the escape "\\/" both come out as a raw "/"');
  add('"q\\"b\\\\s"', 'quote and backslash are escaped as \\" and \\\\');
  add('"\\u0022\\u005c"', 'quote and backslash given as \\u escapes come out as \\" and \\\\');
  add('"\\u007f"', 'DEL (U+007F) is not a control character for canonical JSON: raw');
  add('"a\x7fb"', 'raw DEL in the input stays raw');
  add('"\\u2028\\u2029"', 'U+2028 and U+2029 are raw (unlike JavaScript-safe encoders)');
  add('"\\ud83d\\ude00 \\uD83E\\uDD8A"', 'surrogate-pair escapes (lower- and uppercase) become raw 4-byte UTF-8');
  add('"😀"', 'raw non-BMP character stays raw');
  add('"\\udbff\\udfff"', 'U+10FFFF, the last code point');
  add('"\\ufeff"', 'U+FEFF inside a string is an ordinary character (raw)');
  add('"\\ufffe\\uffff"', 'noncharacters U+FFFE and U+FFFF are raw');
  add('"\\u0000"', 'NUL in a string: \\u0000');
  add('{"a\\u0000b": "c\\u0000d"}', 'NUL inside a key and inside a value');
  add('"\\b\\f\\n\\r\\t"', 'the five short escapes stay short');
  add('"\\u0008\\u000c\\u000a\\u000d\\u0009"', 'the five short-escape characters given as \\u escapes come out short');
  add('"\\u000B\\u001F"', 'other control characters given with uppercase hex come out as lowercase \\u00xx');
  add('"' + Array.from({ length: 32 }, (_, c) => u4(c)).join('') + '"', 'all 32 control characters 0x00-0x1f in one string');
  add('{' + Array.from({ length: 32 }, (_, c) => `"${u4(31 - c)}": ${31 - c}`).join(', ') + '}', 'all 32 control characters as keys (given in reverse order)');
  for (let c = 0; c < 0x20; c++) {
    const forms = [u4(c), u4(c, true)];
    if (CTRL_SHORT[c]) forms.push('\\' + CTRL_SHORT[c]);
    const k = forms[c % forms.length];
    const val = forms[(c + 1) % forms.length];
    add(`{"k${k}": "v${val}"}`, `control character 0x${c.toString(16).padStart(2, '0')} in a key and in a value`);
  }
  add('{"\\"": 1, "\\\\": 2, "/": 3}', 'keys that need escaping: \\" (0x22) < / (0x2f) < \\\\ (0x5c)');
  return v;
}

function errorInputs() {
  const e = [];
  const text = (t, comment, syntax = false) => e.push({ input_text: t, comment, syntax });
  const bytes = (b, comment) => e.push({ input_hex: hex(b), comment });
  text('{\n    "a": -0,\n    "b": 1e10\n}', 'Matrix spec appendix "Canonical JSON" example 10 (spec output {"a":0,"b":10000000000}): refused here, PROTOCOL.md refuses -0 and exponents');
  // numbers
  text('1.0', 'fraction (even with an integer value)');
  text('0.0', 'fraction 0.0');
  text('{"a":1.5}', 'fraction in an object');
  text('1e10', 'exponent');
  text('1E5', 'exponent with capital E');
  text('{"a":1e2}', 'exponent in an object');
  text('1e-2', 'negative exponent');
  text('1E+2', 'exponent with explicit +');
  text('[1.0e0]', 'fraction and exponent');
  text('-0', '-0');
  text('{"a":-0}', '-0 in an object');
  text('[-0]', '-0 in an array');
  text('-0.0', '-0.0');
  text('9007199254740992', '2^53, out of range');
  text('-9007199254740992', '-(2^53), out of range');
  text('[9007199254740992]', '2^53 in an array');
  text('{"a":-9007199254740993}', '-(2^53+1) in an object');
  text('18446744073709551616', '2^64');
  text('123456789012345678901234567890', 'very large integer');
  // duplicates
  text('{"a":1,"a":2}', 'duplicate keys');
  text('{"a":1,"a":1}', 'duplicate keys with equal values');
  text('{"x":{"b":1,"b":2}}', 'duplicate keys in a nested object');
  text('[{"y":1},{"z":1,"z":1}]', 'duplicate keys in an object inside an array');
  text('{"a":1,"\\u0061":2}', 'duplicate keys after unescaping ("a" and "\\u0061")');
  text('{"é":1,"\\u00e9":2}', 'duplicate keys: raw é and \\u00e9');
  text('{"😀":1,"\\ud83d\\ude00":2}', 'duplicate keys: raw U+1F600 and its surrogate-pair escape');
  text('{"\\/":1,"/":2}', 'duplicate keys: "\\/" and "/"');
  // lone surrogates
  text('"\\ud800"', 'lone high surrogate escape');
  text('"\\udc00"', 'lone low surrogate escape');
  text('"\\ud800\\u0041"', 'high surrogate followed by a non-surrogate escape');
  text('"abc\\udbff"', 'high surrogate at the end of a string');
  text('"\\ud800x"', 'high surrogate followed by a raw character');
  text('"\\udc00\\ud800"', 'surrogates in the wrong order');
  text('"\\ud800\\ud800"', 'two high surrogates');
  text('{"\\udfff":1}', 'lone surrogate in a key');
  // invalid UTF-8 (raw bytes)
  const q = (...b) => Uint8Array.from([0x22, ...b, 0x22]);
  bytes(q(0x61, 0xff, 0x62), 'invalid UTF-8: 0xff inside a string');
  bytes(q(0xfe), 'invalid UTF-8: 0xfe');
  bytes(q(0x80), 'invalid UTF-8: lone continuation byte 0x80');
  bytes(q(0xc0, 0xaf), 'invalid UTF-8: overlong 2-byte encoding of "/" (c0 af)');
  bytes(q(0xc1, 0xbf), 'invalid UTF-8: overlong 2-byte (c1 bf)');
  bytes(q(0xe0, 0x80, 0xaf), 'invalid UTF-8: overlong 3-byte (e0 80 af)');
  bytes(q(0xf0, 0x80, 0x80, 0xaf), 'invalid UTF-8: overlong 4-byte (f0 80 80 af)');
  bytes(q(0xe2, 0x82), 'invalid UTF-8: truncated 3-byte sequence (e2 82)');
  bytes(Uint8Array.from([0x22, 0xe2, 0x82]), 'invalid UTF-8: truncated sequence at end of input');
  bytes(q(0xed, 0xa0, 0x80), 'invalid UTF-8: encoded surrogate U+D800 (ed a0 80)');
  bytes(q(0xed, 0xbf, 0xbf), 'invalid UTF-8: encoded surrogate U+DFFF (ed bf bf)');
  bytes(q(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80), 'invalid UTF-8: CESU-8 surrogate pair for U+1F600');
  bytes(q(0xf4, 0x90, 0x80, 0x80), 'invalid UTF-8: above U+10FFFF (f4 90 80 80)');
  bytes(q(0xf8, 0x88, 0x80, 0x80, 0x80), 'invalid UTF-8: 5-byte sequence');
  bytes(Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'invalid UTF-8 in a key');
  bytes(Uint8Array.from([0x5b, 0x31, 0x2c, 0xff, 0x5d]), 'invalid UTF-8 outside a string');
  bytes(Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'UTF-8 byte order mark before {} (raw bytes)');
  text('\ufeff{}', 'UTF-8 byte order mark before {} (as text)');
  // syntax
  text('[1,2,]', 'trailing comma in an array', true);
  text('{"a":1,}', 'trailing comma in an object', true);
  text('{a:1}', 'unquoted key', true);
  text("{'a':1}", 'single-quoted key', true);
  text("'a'", 'single-quoted string', true);
  text('{} x', 'trailing garbage', true);
  text('{}}', 'extra closing brace', true);
  text('1 2', 'two values', true);
  text('', 'empty input', true);
  text(' \n', 'whitespace only', true);
  text('NaN', 'NaN', true);
  text('Infinity', 'Infinity', true);
  text('-Infinity', '-Infinity', true);
  text('+1', 'leading +', true);
  text('01', 'leading zero', true);
  text('-01', 'leading zero after minus', true);
  text('00', 'double zero', true);
  text('.5', 'fraction without integer part', true);
  text('5.', 'fraction without digits', true);
  text('-', 'lone minus', true);
  text('--1', 'double minus', true);
  text('0x10', 'hex number', true);
  text('"a\x01b"', 'raw control character 0x01 inside a string', true);
  text('"a\nb"', 'raw newline inside a string', true);
  text('"a\tb"', 'raw tab inside a string', true);
  text('"a\x00b"', 'raw NUL inside a string', true);
  text('{"a\x1f":1}', 'raw control character 0x1f inside a key', true);
  text('True', 'capitalised literal', true);
  text('nul', 'truncated literal', true);
  text('nulll', 'literal with trailing letter', true);
  text('[1 2]', 'missing comma', true);
  text('{"a" 1}', 'missing colon', true);
  text('{"a":}', 'missing value', true);
  text('"\\x41"', 'invalid escape \\x', true);
  text('"\\u12"', 'short \\u escape', true);
  text('"\\u12G4"', 'non-hex \\u escape', true);
  text('"\\U0041"', 'uppercase \\U escape', true);
  text('"\\\'"', 'escaped single quote', true);
  text('"\\a"', 'invalid escape \\a', true);
  text('"abc', 'unterminated string', true);
  text('[', 'unterminated array', true);
  text('{"a":1', 'unterminated object', true);
  text('{} // comment', 'comment', true);
  text('/* c */ {}', 'block comment', true);
  text('{"a":1}\u00a0', 'trailing U+00A0 (not JSON whitespace)', true);
  text('{"a":1}\f', 'trailing form feed (not JSON whitespace)', true);
  text('[\u2028]', 'U+2028 as whitespace', true);
  return e;
}

export function generate() {
  const valid = validInputs();
  const errors = errorInputs();

  // Python reference.
  const py = spawnSync(PYTHON, [path.join(here, '..', 'canonical_json.py')], {
    input: JSON.stringify(valid.map((x) => x.text)),
    encoding: 'utf8',
  });
  if (py.status !== 0) throw new Error(`${PYTHON} canonical_json.py failed: ${py.stderr}`);
  const pyOut = JSON.parse(py.stdout);
  assertEq(pyOut.canonicaljson_version, '1.6.2', 'python canonicaljson version');
  assertEq(pyOut.results.length, valid.length, 'python result count');

  const cases = [];
  valid.forEach((x, i) => {
    const js = canonicalize(parseStrict(utf8(x.text)));
    const pyStr = utf8Decode(Buffer.from(pyOut.results[i], 'hex'));
    assertEq(js, pyStr, `JS canonicaliser vs python canonicaljson (${x.comment})`);
    // the embedded text must itself be valid in a vector file and mean the same thing
    cases.push({ comment: x.comment, input: new RawJSON(x.text.trim() === x.text ? x.text : x.text.trim()), canonical: js });
  });
  for (const x of errors) {
    const input = x.input_text !== undefined ? utf8(x.input_text) : Buffer.from(x.input_hex.slice(2), 'hex');
    let refused = false;
    try {
      parseStrict(input);
    } catch (err) {
      if (!(err instanceof JsonError)) throw err;
      refused = true;
    }
    assert(refused, `strict parser must refuse: ${x.comment}`);
    if (x.syntax) {
      let jsOk = true;
      try {
        JSON.parse(x.input_text);
      } catch {
        jsOk = false;
      }
      assert(!jsOk, `JSON.parse must refuse syntax error too: ${x.comment}`);
    }
    const c = { comment: x.comment };
    if (x.input_text !== undefined) c.input_text = x.input_text;
    else c.input_hex = x.input_hex;
    c.error = true;
    cases.push(c);
  }
  return { kind: 'canonical_json', cases };
}
