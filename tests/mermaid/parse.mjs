// Parse every Mermaid diagram in the given files with Mermaid's own parser (the npm package,
// under node, with jsdom for the DOM it expects). Markdown files: every ```mermaid block; other
// files: the whole file is one diagram. Prints "N diagrams parsed" or the first error; exits 1
// on an error.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let n = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8');
  const blocks = [];
  if (/\.(md|markdown)$/.test(file) || text.includes('```mermaid')) {
    const re = /```mermaid\n([\s\S]*?)```/g;
    let m;
    while ((m = re.exec(text)) !== null) blocks.push(m[1]);
    if (blocks.length === 0) {
      console.error(`${file}: no mermaid block`);
      process.exit(1);
    }
  } else {
    blocks.push(text);
  }
  for (const [i, b] of blocks.entries()) {
    try {
      await mermaid.parse(b);
      n += 1;
    } catch (e) {
      console.error(`${file}: diagram ${i + 1}: ${e.message ?? e}`);
      process.exit(1);
    }
  }
}
console.log(`${n} diagrams parsed`);
