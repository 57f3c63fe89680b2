// platform/shims/url.ts: node:url in the browser bundle. fileURLToPath gives the URL itself as a string, so
// that shippedModelDir (clip/shipped.ts) is the shipped model's address, which a page can fetch.

export function fileURLToPath(url: string | URL): string {
  return String(url);
}

export function pathToFileURL(path: string): URL {
  return new URL(path, 'file:///');
}
