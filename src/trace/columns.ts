/**
 * Compact storage for the trace store: growable typed-array columns, an
 * interning string table, and an arena that packs message bytes into large
 * shared chunks. A million messages must not mean a million small objects:
 * the garbage collector would spend its time walking them and every one
 * costs a header. Numbers go in typed arrays, repeated strings are stored
 * once, and raw bytes live in a few big buffers addressed by offset.
 */
import { Buffer } from 'node:buffer';

type TypedArray = Float64Array | Uint32Array | Int32Array | Uint16Array | Uint8Array;
type TypedArrayCtor<T extends TypedArray> = { new (length: number): T };

/** A typed array that grows by doubling; `length` counts the used slots. */
export class Column<T extends TypedArray> {
  data: T;
  length = 0;
  readonly #ctor: TypedArrayCtor<T>;
  readonly #fill: number;

  constructor(ctor: TypedArrayCtor<T>, initial = 1024, fill = 0) {
    this.#ctor = ctor;
    this.#fill = fill;
    this.data = new ctor(initial);
    if (fill !== 0) this.data.fill(fill);
  }

  /** Makes room for index `i` (fills new slots with the column's fill value). */
  ensure(i: number): void {
    if (i < this.data.length) return;
    let n = this.data.length * 2;
    while (n <= i) n *= 2;
    const grown = new this.#ctor(n);
    grown.set(this.data as never);
    if (this.#fill !== 0) grown.fill(this.#fill, this.data.length);
    this.data = grown;
  }

  push(value: number): number {
    const i = this.length;
    if (i >= this.data.length) this.ensure(i);
    this.data[i] = value;
    this.length = i + 1;
    return i;
  }

  /** Bytes allocated (capacity, not only the used part). */
  get byteLength(): number {
    return this.data.byteLength;
  }
}

/** Strings stored once; ids are dense from 0. */
export class StringTable {
  readonly #ids = new Map<string, number>();
  readonly values: string[] = [];

  intern(s: string): number {
    let id = this.#ids.get(s);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(s);
      this.#ids.set(s, id);
    }
    return id;
  }

  /** The id of a string already interned, or -1. */
  find(s: string): number {
    return this.#ids.get(s) ?? -1;
  }

  get(id: number): string {
    return this.values[id];
  }

  get size(): number {
    return this.values.length;
  }

  /** Rough heap bytes: the strings (one byte per Latin-1 char) plus map and array slots. */
  estimateBytes(): number {
    let chars = 0;
    for (const s of this.values) chars += s.length;
    return chars + this.values.length * (16 + 8 + 40);
  }
}

/** Locations are chunk × 2^24 + offset: chunks are at most 16 MiB, except a lone oversized message. */
const STRIDE = 2 ** 24;

/**
 * Message bytes in large chunks, addressed by a location number. `add`
 * copies (one memcpy); `view` returns a subarray without copying, valid for
 * the life of the arena (chunks never move).
 */
export class ByteArena {
  readonly chunkSize: number;
  readonly chunks: Uint8Array[] = [];
  #current: Uint8Array = new Uint8Array(0);
  #currentIndex = -1;
  #used = 0;
  /** Bytes stored (without chunk slack). */
  totalBytes = 0;

  constructor(chunkSize = 8 * 1024 * 1024) {
    if (chunkSize > STRIDE) throw new RangeError('chunkSize must be at most 16 MiB');
    this.chunkSize = chunkSize;
  }

  #newChunk(size: number): void {
    // Not zero-filled: every byte handed out is written first.
    const raw = Buffer.allocUnsafeSlow(size);
    this.#current = new Uint8Array(raw.buffer, raw.byteOffset, size);
    this.#used = 0;
    this.#currentIndex = this.chunks.length;
    this.chunks.push(this.#current);
  }

  /** Copies `bytes`; returns their location. */
  add(bytes: Uint8Array): number {
    const n = bytes.length;
    this.totalBytes += n;
    if (n > this.chunkSize) {
      // A chunk of its own; the current chunk stays open for small ones.
      const own = new Uint8Array(n);
      own.set(bytes);
      this.chunks.push(own);
      return (this.chunks.length - 1) * STRIDE;
    }
    if (this.#currentIndex < 0 || this.#used + n > this.#current.length) this.#newChunk(this.chunkSize);
    const at = this.#used;
    this.#current.set(bytes, at);
    this.#used = at + n;
    return this.#currentIndex * STRIDE + at;
  }

  view(location: number, length: number): Uint8Array {
    const chunk = Math.floor(location / STRIDE);
    const at = location - chunk * STRIDE;
    return this.chunks[chunk].subarray(at, at + length);
  }

  get allocatedBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }
}

/** FNV-1a over a string's UTF-16 code units: a 32-bit id for tags and branches (0 is reserved for "none"). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h >>>= 0;
  return h === 0 ? 1 : h;
}

/** FNV-1a over bytes (for pairing the two tap records of one message). */
export function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    h ^= b[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
