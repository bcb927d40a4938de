/**
 * Splits a QMP byte stream into JSON messages, as QEMU's streaming JSON lexer does: a message
 * is a balanced `{...}` (or `[...]`) and may span lines and chunks; several may share a line.
 * Anything else up to the end of its line is handed on as one candidate message, so the
 * caller's JSON.parse can say what is wrong with it.
 *
 *   stream := (blank | message | junk-line)*
 *   message := '{' ... matching '}'   (brackets inside "strings" do not count)
 *   junk-line := a non-blank byte outside a message ... '\n'
 *
 * Limits (QEMU has 64 MiB tokens and 1024 levels): a message or junk line longer than
 * `maxBytes`, or nested deeper than `maxDepth`, is reported once as an error and its bytes are
 * dropped up to its end, after which framing goes on. A raw newline inside a string (never
 * valid JSON) ends a broken message there, so a client that lost a quote gets back in step at
 * the next line. Works on bytes: every structural character is ASCII, and UTF-8 continuation
 * bytes never equal one.
 */

export type FramedItem = { kind: 'message'; text: string } | { kind: 'error'; desc: string };

/** The longest QMP message accepted: a client cannot make the monitor buffer an endless line. */
export const MAX_QMP_MESSAGE_BYTES = 1024 * 1024;
/** QEMU's MAX_NESTING. */
export const MAX_QMP_NESTING = 1024;

const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c, LF = 0x0a;

const isBlank = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === LF;

export class JsonFramer {
  private mode: 'idle' | 'message' | 'junk' = 'idle';
  private depth = 0;
  private inString = false;
  private escape = false;
  /** Bytes of the current message from earlier chunks (dropped once `overflow`). */
  private parts: Buffer[] = [];
  private size = 0;
  /** The current message broke a limit: already reported, its bytes are being dropped. */
  private overflow = false;

  constructor(private readonly maxBytes = MAX_QMP_MESSAGE_BYTES, private readonly maxDepth = MAX_QMP_NESTING) {}

  /** Feeds one chunk; returns the messages and errors it completed, in order. */
  push(chunk: Buffer): FramedItem[] {
    const out: FramedItem[] = [];
    let start = this.mode === 'idle' ? -1 : 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.mode === 'idle') {
        if (isBlank(b)) continue;
        start = i;
        if (b === LBRACE || b === LBRACKET) {
          this.mode = 'message';
          this.depth = 1;
        } else {
          this.mode = 'junk';
        }
        continue;
      }
      if (this.mode === 'junk') {
        if (b === LF) {
          this.finish(chunk, start, i, out);
          start = -1;
        }
        continue;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) this.inString = false;
        else if (b === LF) {
          if (!this.overflow) out.push({ kind: 'error', desc: 'JSON parse error, missing closing quote (a string may not contain a line break)' });
          this.reset();
          start = -1;
        }
      } else if (b === QUOTE) {
        this.inString = true;
      } else if (b === LBRACE || b === LBRACKET) {
        if (++this.depth > this.maxDepth && !this.overflow) {
          out.push({ kind: 'error', desc: `JSON parse error, nesting deeper than ${this.maxDepth} levels` });
          this.drop();
        }
      } else if (b === RBRACE || b === RBRACKET) {
        if (--this.depth === 0) {
          this.finish(chunk, start, i + 1, out);
          start = -1;
        }
      }
    }
    if (this.mode !== 'idle' && start >= 0) this.keep(chunk.subarray(start), out);
    return out;
  }

  /** Bytes of an unfinished message are pending (so a peer that hangs up mid-message can be told). */
  get pending(): boolean {
    return this.mode !== 'idle';
  }

  private keep(bytes: Buffer, out: FramedItem[]): void {
    if (this.overflow) return;
    this.size += bytes.length;
    if (this.size > this.maxBytes) {
      out.push({ kind: 'error', desc: `JSON parse error, message longer than ${this.maxBytes} bytes (dropped)` });
      this.drop();
      return;
    }
    this.parts.push(Buffer.from(bytes)); // a copy: the chunk's memory may be reused
  }

  private finish(chunk: Buffer, start: number, end: number, out: FramedItem[]): void {
    this.keep(chunk.subarray(start, end), out);
    if (!this.overflow) out.push({ kind: 'message', text: Buffer.concat(this.parts).toString('utf8') });
    this.reset();
  }

  private drop(): void {
    this.overflow = true;
    this.parts = [];
    this.size = 0;
  }

  private reset(): void {
    this.mode = 'idle';
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.parts = [];
    this.size = 0;
    this.overflow = false;
  }
}
