// platform/shims/buffer.ts: the two calls of Node's global Buffer the library makes (image/png.ts), for the
// browser bundle, which injects this file where the code names Buffer: views and concatenation of bytes.

export const Buffer = {
  from(buffer: ArrayBufferLike, byteOffset = 0, length?: number): Uint8Array {
    return new Uint8Array(buffer, byteOffset, length ?? buffer.byteLength - byteOffset);
  },
  concat(list: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(list.reduce((s, b) => s + b.length, 0));
    let at = 0;
    for (const b of list) { out.set(b, at); at += b.length; }
    return out;
  },
};
