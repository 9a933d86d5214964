/**
 * @module Streams one file field out of a multipart/form-data body without buffering the body: parts
 * before it are skipped, the file's bytes are yielded as they arrive, anything after it is ignored.
 */
import { InvalidRequest } from '../errors.ts';

const enc = new TextEncoder();
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a multipart/form-data content type, or null when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return null;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) throw new InvalidRequest('multipart/form-data without a boundary');
  return m[1] ?? m[2];
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  for (let i = hay.indexOf(first, from); i !== -1 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Yields the bytes of the multipart field `field` of `body`.
 * @throws InvalidRequest when the body is malformed or has no such field.
 * @example for await (const chunk of multipartFile(req.body, boundary, 'file')) sink.write(chunk);
 */
export async function* multipartFile(body: AsyncIterable<Uint8Array>, boundary: string, field: string): AsyncGenerator<Uint8Array> {
  const delim = enc.encode(`\r\n--${boundary}`);
  const it = body[Symbol.asyncIterator]();
  let buf: Uint8Array = enc.encode('\r\n');
  let done = false;
  const more = async (): Promise<boolean> => {
    if (done) return false;
    const r = await it.next();
    if (r.done) return !(done = true);
    buf = concat(buf, r.value);
    return true;
  };
  const truncated = () => new InvalidRequest(`multipart body ended before the '${field}' field was complete`);
  for (;;) {
    let at: number;
    while ((at = indexOf(buf, delim)) === -1) {
      if (buf.length > delim.length) buf = buf.slice(buf.length - delim.length);
      if (!(await more())) throw new InvalidRequest(`multipart body has no '${field}' field`);
    }
    buf = buf.slice(at + delim.length);
    while (buf.length < 2) if (!(await more())) throw truncated();
    if (buf[0] === 0x2d && buf[1] === 0x2d) throw new InvalidRequest(`multipart body has no '${field}' field`);
    let end: number;
    while ((end = indexOf(buf, enc.encode('\r\n\r\n'))) === -1) {
      if (buf.length > MAX_HEADER_BYTES) throw new InvalidRequest('multipart part headers are too long');
      if (!(await more())) throw truncated();
    }
    const headers = new TextDecoder().decode(buf.slice(0, end));
    buf = buf.slice(end + 4);
    const name = /content-disposition:[^\r\n]*;\s*name="([^"]*)"/i.exec(headers)?.[1];
    if (name !== field) continue;
    for (;;) {
      const stop = indexOf(buf, delim);
      if (stop !== -1) {
        if (stop > 0) yield buf.slice(0, stop);
        return;
      }
      const keep = delim.length - 1;
      if (buf.length > keep) {
        yield buf.slice(0, buf.length - keep);
        buf = buf.slice(buf.length - keep);
      }
      if (!(await more())) throw truncated();
    }
  }
}
