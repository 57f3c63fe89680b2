// platform/embedded.d.ts: the wasm kernels as the browser bundle embeds them (tools/build_browser.js resolves
// these module names to dist/kernels/wasm/*.wasm with esbuild's binary loader). Only platform/browser.ts
// imports them; Node never loads that file.
declare module 'decomcam-embedded:kernels.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
declare module 'decomcam-embedded:kernels-fma.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
