// TOTP codes and QR codes for the second-factor tests, computed independently
// of the server: codes by Debian's oathtool (RFC 6238), and a small QR reader
// for the SVG the enrolment page draws (one <path> of unit squares, one per
// dark module, after a 4-module quiet zone), so a test can check that the QR
// code carries the same secret the page prints.
import { execFileSync } from 'node:child_process';

export const OATHTOOL = process.env.OATHTOOL ?? 'oathtool';

// The 6-digit code for a base32 secret at `at` ('YYYY-MM-DD HH:MM:SS', UTC).
export function totpAt(secretBase32, at) {
  return execFileSync(OATHTOOL, ['--totp', '-b', '-N', `${at} UTC`, secretBase32], { encoding: 'utf8' }).trim();
}

// The dark modules of the page's QR SVG as a square boolean matrix (quiet zone removed).
// `viewBox` is the SVG's "0 0 S S"; `d` is the path of "Mx,yh1v1h-1z" squares.
export function qrMatrixFromSvgPath(viewBox, d, quiet = 4) {
  const s = Number(viewBox.trim().split(/\s+/)[2]);
  const n = s - 2 * quiet;
  if (!Number.isInteger(n) || n < 21 || (n - 17) % 4 !== 0) throw new Error(`not a QR code size: ${viewBox}`);
  const m = Array.from({ length: n }, () => new Array(n).fill(false));
  const squares = [...d.matchAll(/M(\d+),(\d+)h1v1h-1z/g)];
  if (squares.map((x) => x[0]).join('') !== d) throw new Error('unexpected path data');
  for (const [, x, y] of squares) {
    const cx = Number(x) - quiet;
    const cy = Number(y) - quiet;
    if (cx < 0 || cy < 0 || cx >= n || cy >= n) throw new Error(`module outside the symbol: ${x},${y}`);
    m[cy][cx] = true;
  }
  return m;
}

// Level-M block structure (ISO/IEC 18004 table 9), versions 1..15.
const ECC_PER_BLOCK_M = [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24];
const BLOCKS_M = [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10];
const LEVEL_BITS = { 1: 'L', 0: 'M', 3: 'Q', 2: 'H' };

function alignmentPositions(ver, size) {
  if (ver === 1) return [];
  const num = Math.floor(ver / 7) + 2;
  const step = Math.floor((ver * 8 + num * 3 + 5) / (num * 4 - 4)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < num; pos -= step) out.splice(1, 0, pos);
  return out;
}

function rawDataModules(ver) {
  let r = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const num = Math.floor(ver / 7) + 2;
    r -= (25 * num - 10) * num - 55;
    if (ver >= 7) r -= 36;
  }
  return r;
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

// Reads an undamaged QR symbol (m[row][col], true = dark): checks the finder
// patterns and the format information's BCH code, unmasks, de-interleaves the
// data codewords and decodes byte-mode segments. Returns { version, level, mask, text }.
// Error correction is not applied: a symbol drawn by an encoder has no errors.
export function decodeQr(m) {
  const size = m.length;
  const ver = (size - 17) / 4;
  if (!Number.isInteger(ver) || ver < 1 || m.some((row) => row.length !== size)) throw new Error(`bad symbol size ${size}`);
  const at = (x, y) => m[y][x];
  for (const [fx, fy] of [[0, 0], [size - 7, 0], [0, size - 7]]) {
    for (let dy = 0; dy < 7; dy++) {
      for (let dx = 0; dx < 7; dx++) {
        const want = dx === 0 || dx === 6 || dy === 0 || dy === 6 || (dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4);
        if (at(fx + dx, fy + dy) !== want) throw new Error(`finder pattern broken at ${fx + dx},${fy + dy}`);
      }
    }
  }
  // Format information (first copy, around the top-left finder).
  let bits = 0;
  const fmt = [];
  for (let i = 0; i <= 5; i++) fmt.push([8, i]);
  fmt.push([8, 7], [8, 8], [7, 8]);
  for (let i = 9; i < 15; i++) fmt.push([14 - i, 8]);
  fmt.forEach(([x, y], i) => { if (at(x, y)) bits |= 1 << i; });
  bits ^= 0x5412;
  const data5 = bits >> 10;
  let rem = data5;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >> 9) * 0x537);
  if (((data5 << 10) | rem) !== bits) throw new Error('format information fails its BCH check');
  const level = LEVEL_BITS[data5 >> 3];
  const mask = data5 & 7;
  if (level !== 'M' || ver >= ECC_PER_BLOCK_M.length) throw new Error(`unsupported symbol: version ${ver} level ${level}`);

  // Function modules: finders with separators, timing, alignment, format and version areas.
  const fn = Array.from({ length: size }, () => new Array(size).fill(false));
  const mark = (x, y) => { if (x >= 0 && y >= 0 && x < size && y < size) fn[y][x] = true; };
  for (let i = 0; i < size; i++) { mark(6, i); mark(i, 6); }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) mark(cx + dx, cy + dy);
  }
  const al = alignmentPositions(ver, size);
  al.forEach((ay, i) => al.forEach((ax, j) => {
    if ((i === 0 && j === 0) || (i === 0 && j === al.length - 1) || (i === al.length - 1 && j === 0)) return;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) mark(ax + dx, ay + dy);
  }));
  for (let i = 0; i <= 8; i++) { mark(8, i); mark(i, 8); }
  for (let i = 0; i < 8; i++) { mark(size - 1 - i, 8); mark(8, size - 1 - i); }
  if (ver >= 7) {
    for (let i = 0; i < 18; i++) {
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      mark(a, b); mark(b, a);
    }
  }

  // Codewords in the zigzag order, unmasked.
  const rawCodewords = Math.floor(rawDataModules(ver) / 8);
  const cw = new Array(rawCodewords).fill(0);
  let bit = 0;
  const masked = MASKS[mask];
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (fn[y][x] || bit >= rawCodewords * 8) continue;
        if (at(x, y) !== masked(x, y)) cw[bit >> 3] |= 0x80 >> (bit & 7);
        bit++;
      }
    }
  }

  // De-interleave the data codewords of each block.
  const blocks = BLOCKS_M[ver];
  const ecc = ECC_PER_BLOCK_M[ver];
  const shortLen = Math.floor(rawCodewords / blocks);
  const numShort = blocks - (rawCodewords % blocks);
  const dataLens = Array.from({ length: blocks }, (_, j) => shortLen - ecc + (j < numShort ? 0 : 1));
  const perBlock = dataLens.map(() => []);
  let k = 0;
  for (let i = 0; i < Math.max(...dataLens); i++) {
    for (let j = 0; j < blocks; j++) if (i < dataLens[j]) perBlock[j].push(cw[k++]);
  }
  const stream = perBlock.flat();

  // Segments: byte mode only (what an encoder picks for a URI), until the terminator.
  let pos = 0;
  const read = (n) => {
    let v = 0;
    for (let i = 0; i < n; i++, pos++) v = (v << 1) | ((stream[pos >> 3] >> (7 - (pos & 7))) & 1);
    return v;
  };
  const bytes = [];
  while (pos + 4 <= stream.length * 8) {
    const mode = read(4);
    if (mode === 0) break;
    if (mode !== 4) throw new Error(`unsupported segment mode ${mode}`);
    const count = read(ver <= 9 ? 8 : 16);
    for (let i = 0; i < count; i++) bytes.push(read(8));
  }
  return { version: ver, level, mask, text: Buffer.from(bytes).toString('utf8') };
}
